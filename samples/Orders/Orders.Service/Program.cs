using Orders.Service;

await OrdersService.Build(args).RunAsync();
