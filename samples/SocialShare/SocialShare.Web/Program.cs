using SocialShare.Web;

await SocialShareWeb.Build(args).RunAsync();
