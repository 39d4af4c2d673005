using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Switchboard.AspNetCore;
using Switchboard.Auth;
using Switchboard.Config;
using Switchboard.Jobs;
using Switchboard.Retention;

namespace Switchboard.AspNetCore.Tests.OptionsValidation;

/// <summary>
/// Every rule of every options part, through the keys an operator writes (<c>Switchboard:Polling:MaxWait</c>, the
/// same as <c>Switchboard__Polling__MaxWait</c>) and the start-up validation AddSwitchboard registers. One row per rule,
/// so a rule that goes missing fails its row. No server starts: the start-up validator is what a host runs first.
/// </summary>
public sealed class OptionsValidationTests
{
    private const string ValidKey = "sk_abcdefghijklmnopqrstuvwxyz";
    private const string Missing = "/nonexistent/switchboard-test";

    [Theory]
    // Limits
    [InlineData("Limits:MaxEventBytes=8", "Limits:MaxEventBytes must be between 16 B and 16 MiB.")]
    [InlineData("Limits:MaxBatchBytes=1000", "Limits:MaxBatchBytes must be at least Limits:MaxEventBytes.")]
    [InlineData("Limits:MaxBatchEvents=0", "Limits:MaxBatchEvents must be between 1 and 100,000.")]
    [InlineData("Limits:MaxTopicLength=1025", "Limits:MaxTopicLength must be between 1 and 1024.")]
    [InlineData("Limits:MaxTypeLength=0", "Limits:MaxTypeLength must be between 1 and 1024.")]
    [InlineData("Limits:MaxPatternsPerSubscription=0", "Limits:MaxPatternsPerSubscription must be between 1 and 1024.")]
    [InlineData("Limits:MaxIdempotencyKeyLength=2000", "Limits:MaxIdempotencyKeyLength must be between 1 and 1024.")]
    [InlineData("Limits:MaxConnections=0", "Limits:MaxConnections must be at least 1.")]
    [InlineData("Limits:MaxConnectionsPerIp=-1", "Limits:MaxConnectionsPerIp must not be negative.")]
    [InlineData("Limits:MaxConnectionsPerSubject=-1", "Limits:MaxConnectionsPerSubject must not be negative.")]
    [InlineData("Limits:MaxLongPollsPerSubject=-1", "Limits:MaxLongPollsPerSubject must not be negative.")]
    [InlineData("Limits:RequestsPerSecondPerKey=-1", "Limits:RequestsPerSecondPerKey must not be negative.")]
    [InlineData("Limits:RequestsPerSecondPerSubject=-1", "Limits:RequestsPerSecondPerSubject must not be negative.")]
    [InlineData("Limits:RequestsPerSecondPerIp=-1", "Limits:RequestsPerSecondPerIp must not be negative.")]
    // Polling
    [InlineData("Polling:DefaultLimit=0", "Polling:DefaultLimit must be between 1 and Polling:MaxLimit.")]
    [InlineData("Polling:DefaultLimit=2000", "Polling:DefaultLimit must be between 1 and Polling:MaxLimit.")]
    [InlineData("Polling:MaxLimit=20000;Polling:DefaultLimit=1", "Polling:MaxLimit must be between 1 and 10,000.")]
    [InlineData("Polling:MaxWait=00:00:00", "Polling:MaxWait must be between 0 and 10 minutes.")]
    [InlineData("Polling:MaxWait=00:10:01", "Polling:MaxWait must be between 0 and 10 minutes.")]
    [InlineData("Polling:PollIntervalSeconds=0", "Polling:PollIntervalSeconds must be at least 1.")]
    // Sse
    [InlineData("Sse:HeartbeatInterval=00:00:00.005", "Sse:HeartbeatInterval must be at least 10 ms.")]
    [InlineData("Sse:ReconnectDelay=-00:00:01", "Sse:ReconnectDelay must not be negative.")]
    [InlineData("Sse:BatchSize=0", "Sse:BatchSize must be between 1 and 10,000.")]
    [InlineData("Sse:MaxStreamDuration=00:00:00", "Sse:MaxStreamDuration must be positive when set.")]
    [InlineData("Sse:SlowClientTimeout=1.00:00:01", "Sse:SlowClientTimeout must be between 10 ms and 1 day.")]
    // WebSockets
    [InlineData("WebSockets:MaxMessageBytes=100", "WebSockets:MaxMessageBytes must be between 128 B and 16 MiB.")]
    [InlineData("WebSockets:MaxMessagesPerSecond=0", "WebSockets:MaxMessagesPerSecond must be at least 1.")]
    [InlineData("WebSockets:MaxRateLimitViolations=0", "WebSockets:MaxRateLimitViolations must be at least 1.")]
    [InlineData("WebSockets:MaxSubscriptionsPerConnection=0", "WebSockets:MaxSubscriptionsPerConnection must be at least 1.")]
    [InlineData("WebSockets:MaxConnections=0", "WebSockets:MaxConnections must be at least 1.")]
    [InlineData("WebSockets:KeepAliveInterval=00:00:00", "WebSockets:KeepAliveInterval must be positive.")]
    [InlineData("WebSockets:KeepAliveTimeout=-00:00:01", "WebSockets:KeepAliveTimeout must be positive.")]
    [InlineData("WebSockets:SendQueueCapacity=0", "WebSockets:SendQueueCapacity must be at least 1.")]
    [InlineData("WebSockets:SlowClientTimeout=00:00:00", "WebSockets:SlowClientTimeout must be positive.")]
    [InlineData("WebSockets:CloseTimeout=00:00:00", "WebSockets:CloseTimeout must be positive.")]
    [InlineData("WebSockets:MaxHistory=-1", "WebSockets:MaxHistory must not be negative.")]
    [InlineData("WebSockets:Publishable:5=bad topic", "WebSockets:Publishable entry 'bad topic' is not a valid topic pattern.")]
    // Retention
    [InlineData("Retention:MaxAge=00:00:00", "Retention:MaxAge must be positive when set.")]
    [InlineData("Retention:MaxEventsPerTopic=0", "Retention:MaxEventsPerTopic must be at least 1 when set.")]
    [InlineData("Retention:TrimInterval=00:00:00.001", "Retention:TrimInterval must be at least 10 ms.")]
    [InlineData("Retention:Topics:bad topic:MaxEventsPerTopic=5", "Retention:Topics:bad topic is not a valid topic prefix.")]
    [InlineData("Retention:Topics:orders:MaxAge=00:00:00", "Retention:Topics:orders:MaxAge must be positive when set.")]
    [InlineData("Retention:Topics:orders:MaxEventsPerTopic=0", "Retention:Topics:orders:MaxEventsPerTopic must be at least 1 when set.")]
    // Idempotency
    [InlineData("Idempotency:KeyRetention=00:00:00", "Idempotency:KeyRetention must be positive.")]
    // Webhooks
    [InlineData("Webhooks:AllowedNetworks:0=10.0.0.0/99", "Webhooks:AllowedNetworks entry '10.0.0.0/99' is not a CIDR such as 127.0.0.0/8.")]
    [InlineData("Webhooks:RetrySchedule:0=00:00:05;Webhooks:RetrySchedule:1=00:00:00", "Webhooks:RetrySchedule delays must be positive.")]
    [InlineData("Webhooks:RetryJitter=1", "Webhooks:RetryJitter must be between 0 and 1.")]
    [InlineData("Webhooks:RetryJitter=-0.1", "Webhooks:RetryJitter must be between 0 and 1.")]
    [InlineData("Webhooks:RequestTimeout=00:00:00", "Webhooks:RequestTimeout must be positive.")]
    [InlineData("Webhooks:MinRetryAfter=00:00:00", "Webhooks:MinRetryAfter must be positive and at most Webhooks:MaxRetryAfter.")]
    [InlineData("Webhooks:MinRetryAfter=02:00:00", "Webhooks:MinRetryAfter must be positive and at most Webhooks:MaxRetryAfter.")]
    [InlineData("Webhooks:MaxResponseBodyBytes=65537", "Webhooks:MaxResponseBodyBytes must be between 0 and 64 KiB.")]
    [InlineData("Webhooks:MaxConcurrentDeliveries=0", "Webhooks:MaxConcurrentDeliveries must be at least 1.")]
    [InlineData("Webhooks:DefaultMaxInFlight=0", "Webhooks:DefaultMaxInFlight must be between 1 and Webhooks:MaxInFlightLimit.")]
    [InlineData("Webhooks:DefaultMaxInFlight=101", "Webhooks:DefaultMaxInFlight must be between 1 and Webhooks:MaxInFlightLimit.")]
    [InlineData("Webhooks:MaxPendingRetriesPerEndpoint=0", "Webhooks:MaxPendingRetriesPerEndpoint must be at least 1.")]
    [InlineData("Webhooks:CircuitFailureThreshold=0", "Webhooks:CircuitFailureThreshold must be at least 1.")]
    [InlineData("Webhooks:CircuitBreakDuration=00:00:00", "Webhooks:CircuitBreakDuration must be positive.")]
    [InlineData("Webhooks:DisableAfter=00:00:00", "Webhooks:DisableAfter must be positive.")]
    [InlineData("Webhooks:SecretRotationGrace=-00:00:01", "Webhooks:SecretRotationGrace must not be negative.")]
    [InlineData("Webhooks:AttemptsKeptPerEndpoint=0", "Webhooks:AttemptsKeptPerEndpoint must be at least 1.")]
    [InlineData("Webhooks:MaxEndpoints=0", "Webhooks:MaxEndpoints must be at least 1.")]
    // Jobs
    [InlineData("Jobs:DefaultMaxAttempts=0", "Jobs:DefaultMaxAttempts must be between 1 and Jobs:MaxAttemptsLimit.")]
    [InlineData("Jobs:DefaultMaxAttempts=101", "Jobs:DefaultMaxAttempts must be between 1 and Jobs:MaxAttemptsLimit.")]
    [InlineData("Jobs:MaxAttemptsLimit=1001", "Jobs:MaxAttemptsLimit must be between 1 and 1000.")]
    [InlineData("Jobs:LeaseDuration=00:00:00", "Jobs:LeaseDuration must be positive and at most Jobs:MaxLeaseDuration.")]
    [InlineData("Jobs:LeaseDuration=00:11:00", "Jobs:LeaseDuration must be positive and at most Jobs:MaxLeaseDuration.")]
    [InlineData("Jobs:LeaseCheckInterval=00:00:00.001", "Jobs:LeaseCheckInterval must be at least 10 ms.")]
    [InlineData("Jobs:RetryBackoff=-00:00:01", "Jobs:RetryBackoff must not be negative and at most Jobs:MaxRetryBackoff.")]
    [InlineData("Jobs:RetryBackoff=00:06:00", "Jobs:RetryBackoff must not be negative and at most Jobs:MaxRetryBackoff.")]
    [InlineData("Jobs:MaxUnfinishedJobs=0", "Jobs:MaxUnfinishedJobs must be at least 1.")]
    [InlineData("Jobs:FinishedJobRetention=00:00:00", "Jobs:FinishedJobRetention must be positive.")]
    // Config
    [InlineData("Config:MaxBytes=63", "Config:MaxBytes must be between 64 B and 16 MiB.")]
    [InlineData("Config:MaxKeys=0", "Config:MaxKeys must be between 1 and 100,000.")]
    [InlineData("Config:MaxKeyLength=4097", "Config:MaxKeyLength must be between 1 and 4096.")]
    [InlineData("Config:MaxAppLength=201", "Config:MaxAppLength must be between 1 and 200")]
    [InlineData("Config:HistoryPerApp=0", "Config:HistoryPerApp must be between 1 and 100,000.")]
    [InlineData("Config:MaxWatchApps=10001", "Config:MaxWatchApps must be between 1 and 10,000.")]
    [InlineData("Config:MaxHeldRequests=0", "Config:MaxHeldRequests must be at least 1.")]
    [InlineData("Config:ReleaseBatchSize=0", "Config:ReleaseBatchSize must be at least 1.")]
    [InlineData("Config:ReleaseInterval=00:00:02", "Config:ReleaseInterval must be between 0 and 1 s.")]
    // Auth
    [InlineData("Auth:JwtSecret=too-short", "Auth:JwtSecret must be at least 32 bytes")]
    [InlineData("Auth:JwtPublicKeyPath=" + Missing, "Auth:JwtPublicKeyPath '" + Missing + "' does not exist.")]
    [InlineData("Auth:JwksPath=" + Missing, "Auth:JwksPath '" + Missing + "' does not exist.")]
    [InlineData("Auth:ClockSkew=00:06:00", "Auth:ClockSkew must be between 0 and 5 minutes.")]
    [InlineData("Auth:PublicTopics:0=bad topic", "Auth:PublicTopics entry 'bad topic' is not a valid topic pattern.")]
    [InlineData("Auth:ApiKeys:0:Name=nothing;Auth:ApiKeys:0:Scopes:0=publish", "Auth:ApiKeys:0 needs exactly one of Key (sk_...) or Hash (its SHA-256, hex).")]
    [InlineData("Auth:ApiKeys:0:Key=sk_short;Auth:ApiKeys:0:Scopes:0=publish", "Auth:ApiKeys:0:Key must start with sk_ and be at least 24 characters.")]
    [InlineData("Auth:ApiKeys:0:Hash=abc;Auth:ApiKeys:0:Scopes:0=publish", "Auth:ApiKeys:0:Hash must be 64 hex digits (SHA-256).")]
    [InlineData("Auth:ApiKeys:0:Key=" + ValidKey, "Auth:ApiKeys:0:Scopes must name at least one of")]
    [InlineData("Auth:ApiKeys:0:Key=" + ValidKey + ";Auth:ApiKeys:0:Scopes:0=bogus", "Auth:ApiKeys:0:Scopes entry 'bogus' is not one of")]
    [InlineData("Auth:ApiKeys:0:Key=" + ValidKey + ";Auth:ApiKeys:0:Scopes:0=publish;Auth:ApiKeys:0:Topics:0=bad topic",
        "Auth:ApiKeys:0:Topics entry 'bad topic' is not a valid topic pattern.")]
    public void BadSetting_FailsAtStart_NamingTheKey(string settings, string message)
    {
        var error = Assert.Throws<OptionsValidationException>(() => ValidateAtStart(Configuration(settings)));

        Assert.True(error.Failures.Any(failure => failure.Contains(message, StringComparison.Ordinal)), string.Join(Environment.NewLine, error.Failures));
    }

    [Fact]
    public void Defaults_PassStartValidation() => ValidateAtStart(Configuration(""));

    [Fact]
    public void ConfigurationKeys_BindEachPartFromItsOwnSection()
    {
        using var provider = Build(Configuration(
            "Limits:MaxEventBytes=1000;Polling:MaxWait=00:00:05;Sse:BatchSize=7;WebSockets:MaxHistory=3;Retention:TrimInterval=00:00:02;" +
            "Idempotency:KeyRetention=01:00:00;Webhooks:MaxEndpoints=4;Jobs:MaxUnfinishedJobs=5;Config:MaxKeys=6;Auth:Issuer=me;Cors:AllowedOrigins:0=https://a.example"));

        AssertEveryPartSet(provider);
    }

    [Fact]
    public void ConfigureCallback_ReachesEveryPart_AfterConfiguration()
    {
        // Polling comes from both (the callback wins, as it runs after binding); Jobs only from configuration.
        using var provider = Build(Configuration("Polling:MaxWait=00:00:01;Jobs:MaxUnfinishedJobs=5"), o =>
        {
            o.Limits.MaxEventBytes = 1000;
            o.Polling.MaxWait = TimeSpan.FromSeconds(5);
            o.Sse.BatchSize = 7;
            o.WebSockets.MaxHistory = 3;
            o.Retention.TrimInterval = TimeSpan.FromSeconds(2);
            o.Idempotency.KeyRetention = TimeSpan.FromHours(1);
            o.Webhooks.MaxEndpoints = 4;
            o.Config.MaxKeys = 6;
            o.Auth.Issuer = "me";
            o.Cors.AllowedOrigins.Add("https://a.example");
        });

        AssertEveryPartSet(provider);
    }

    [Fact]
    public void ConfigureCallback_BadValue_FailsAtStart()
    {
        var error = Assert.Throws<OptionsValidationException>(() => ValidateAtStart(Configuration(""), o => o.Webhooks.RetryJitter = 2));

        Assert.Contains(error.Failures, failure => failure.Contains("Webhooks:RetryJitter must be between 0 and 1.", StringComparison.Ordinal));
    }

    private static IConfiguration Configuration(string settings) => new ConfigurationBuilder()
        .AddInMemoryCollection(settings.Split(';', StringSplitOptions.RemoveEmptyEntries)
            .Select(pair => pair.Split('=', 2))
            .Select(pair => KeyValuePair.Create(SwitchboardOptions.SectionName + ":" + pair[0], (string?)pair[1])))
        .Build();

    private static ServiceProvider Build(IConfiguration configuration, Action<SwitchboardOptions>? configure = null)
    {
        var services = new ServiceCollection();
        services.AddSingleton(configuration);
        services.AddSwitchboard(configure);
        return services.BuildServiceProvider();
    }

    /// <summary>Runs what a host runs before it starts: every options type registered with ValidateOnStart.</summary>
    private static void ValidateAtStart(IConfiguration configuration, Action<SwitchboardOptions>? configure = null)
    {
        using var provider = Build(configuration, configure);
        provider.GetRequiredService<IStartupValidator>().Validate();
    }

    /// <summary>The values both the binding and the callback test give, one per part.</summary>
    private static void AssertEveryPartSet(IServiceProvider provider)
    {
        Assert.Equal(1000, Value<LimitsOptions>(provider).MaxEventBytes);
        Assert.Equal(TimeSpan.FromSeconds(5), Value<PollingOptions>(provider).MaxWait);
        Assert.Equal(7, Value<SseOptions>(provider).BatchSize);
        Assert.Equal(3, Value<WebSocketOptions>(provider).MaxHistory);
        Assert.Equal(TimeSpan.FromSeconds(2), Value<RetentionOptions>(provider).TrimInterval);
        Assert.Equal(TimeSpan.FromHours(1), Value<IdempotencyOptions>(provider).KeyRetention);
        Assert.Equal(4, Value<WebhookOptions>(provider).MaxEndpoints);
        Assert.Equal(5, Value<JobOptions>(provider).MaxUnfinishedJobs);
        Assert.Equal(6, Value<ConfigOptions>(provider).MaxKeys);
        Assert.Equal("me", Value<AuthOptions>(provider).Issuer);
        Assert.Equal(["https://a.example"], Value<CorsOptions>(provider).AllowedOrigins);
    }

    private static T Value<T>(IServiceProvider provider) where T : class => provider.GetRequiredService<IOptions<T>>().Value;
}
