using Microsoft.AspNetCore.Http;
using Switchboard.AspNetCore.Auth;
using Switchboard.AspNetCore.Http;
using Switchboard.Hubs;
using Switchboard.Presence;

namespace Switchboard.AspNetCore.WebSockets;

/// <summary>
/// <c>GET /v1/topics/{topic}/presence</c>: <c>{"topic": "...", "members": [...]}</c>, the list the WebSocket
/// <c>presence</c> op answers, for callers that are not in the room (a dashboard, a bot). A shared store that cannot be
/// reached is the usual 503 <c>store-unavailable</c>.
/// </summary>
internal static class PresenceEndpoint
{
    public static async Task<IResult> GetAsync(string topic, HttpContext context, Hub hub, IPresenceStore presence)
    {
        hub.ValidateTopic(topic);
        Caller.Of(context).RequireSubscribe(topic);
        var members = await presence.MembersAsync(topic, context.RequestAborted);
        return Results.Json(new PresenceResponse(topic, members), SwitchboardJsonContext.Wire.PresenceResponse);
    }
}
