using Switchboard.Retention;

namespace Switchboard;

/// <summary>
/// The settings an <c>AddSwitchboard(o =&gt; ...)</c> callback may change, one part per feature. Each part is its own
/// options type, bound from its own section under <c>Switchboard</c> (<c>appsettings.json</c>, or environment variables
/// such as <c>Switchboard__Limits__MaxEventBytes</c>), validated at start, and injected only where it is used
/// (<c>IOptionsMonitor&lt;PollingOptions&gt;</c>). This type only carries the callback to the parts: when a part is
/// built, the callback runs against an aggregate whose part is that instance (the others are throwaway defaults), so a
/// callback sets properties of the parts and reads nothing across them. Every default is a safe production value.
/// </summary>
public sealed class SwitchboardOptions
{
    /// <summary>The configuration section every part's section is under.</summary>
    public const string SectionName = "Switchboard";

    /// <summary>Input limits (<c>Switchboard:Limits</c>).</summary>
    public LimitsOptions Limits { get; private init; } = new();

    /// <summary>Short and long polling (<c>Switchboard:Polling</c>).</summary>
    public PollingOptions Polling { get; private init; } = new();

    /// <summary>Server-Sent Events (<c>Switchboard:Sse</c>).</summary>
    public SseOptions Sse { get; private init; } = new();

    /// <summary>WebSocket connections (<c>Switchboard:WebSockets</c>).</summary>
    public WebSocketOptions WebSockets { get; private init; } = new();

    /// <summary>How long history is kept (<c>Switchboard:Retention</c>).</summary>
    public RetentionOptions Retention { get; private init; } = new();

    /// <summary>Idempotent publishing (<c>Switchboard:Idempotency</c>).</summary>
    public IdempotencyOptions Idempotency { get; private init; } = new();

    /// <summary>Webhook delivery (<c>Switchboard:Webhooks</c>).</summary>
    public WebhookOptions Webhooks { get; private init; } = new();

    /// <summary>Async jobs (<c>Switchboard:Jobs</c>).</summary>
    public global::Switchboard.Jobs.JobOptions Jobs { get; private init; } = new();

    /// <summary>Config and feature-flag sync (<c>Switchboard:Config</c>).</summary>
    public Config.ConfigOptions Config { get; private init; } = new();

    /// <summary>API keys, subscriber tokens, public topics and protected mode (<c>Switchboard:Auth</c>).</summary>
    public Auth.AuthOptions Auth { get; private init; } = new();

    /// <summary>Browser origins allowed by CORS and the WebSocket Origin check (<c>Switchboard:Cors</c>).</summary>
    public Auth.CorsOptions Cors { get; private init; } = new();

    /// <summary>
    /// An aggregate whose part of type <typeparamref name="T"/> is <paramref name="part"/>, so a configure callback
    /// written against the aggregate changes that instance. The parts' setters are private so a callback cannot
    /// swap a part for a new object, which would silently be lost.
    /// </summary>
    internal static SwitchboardOptions Around<T>(T part) where T : class => part switch
    {
        LimitsOptions limits => new() { Limits = limits },
        PollingOptions polling => new() { Polling = polling },
        SseOptions sse => new() { Sse = sse },
        WebSocketOptions webSockets => new() { WebSockets = webSockets },
        RetentionOptions retention => new() { Retention = retention },
        IdempotencyOptions idempotency => new() { Idempotency = idempotency },
        WebhookOptions webhooks => new() { Webhooks = webhooks },
        global::Switchboard.Jobs.JobOptions jobs => new() { Jobs = jobs },
        Config.ConfigOptions config => new() { Config = config },
        Auth.AuthOptions auth => new() { Auth = auth },
        Auth.CorsOptions cors => new() { Cors = cors },
        _ => throw new ArgumentException($"{typeof(T).Name} is not a part of {nameof(SwitchboardOptions)}.", nameof(part)),
    };
}
