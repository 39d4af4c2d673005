export type TransportName = 'websocket' | 'sse' | 'long-poll' | 'poll';
export declare const ALL_TRANSPORTS: readonly TransportName[];
/** An event as delivered: the hub's event plus the cursor just after it. */
export interface HubEvent {
    seq: number;
    topic: string;
    type: string;
    time: string;
    data: unknown;
    cursor: string;
}
/** A gap the hub told us about: events were lost to retention or the hub's history changed. */
export interface ResetInfo {
    reason: string;
    cursor: string;
}
export type SubscriptionState = 'connecting' | 'open' | 'reconnecting' | 'closed';
/** Where cursors are kept between runs (a page reload, a process restart). */
export interface CursorStore {
    get(key: string): string | null | undefined | Promise<string | null | undefined>;
    set(key: string, cursor: string): void | Promise<void>;
}
export interface SwitchboardOptions {
    /** A subscriber token (JWT) or API key sent as the bearer credential. */
    token?: string;
    /** Returns a fresh token; called before the current one expires and on token-expired. */
    getToken?: () => string | Promise<string>;
    /** Transports to try, best first. Default (`'auto'`): websocket, sse, long-poll, poll. */
    transports?: TransportName[] | 'auto';
    /** Cursor persistence for subscriptions given a `key`. Default: localStorage when there is one. */
    cursorStore?: CursorStore | null;
    /** A WebSocket constructor (Node 20 has none built in: pass `ws`). Default: globalThis.WebSocket. */
    WebSocket?: unknown;
    /** A fetch implementation. Default: globalThis.fetch. */
    fetch?: typeof fetch;
    /** Reconnect back-off (full jitter): first ceiling and largest ceiling, in ms. Default 500 / 30000. */
    backoff?: {
        initial?: number;
        max?: number;
    };
    /** After a transport failed, how long until a better one is tried again (doubling). Default 5000 / 60000 ms. */
    upgradeRetry?: {
        initial?: number;
        max?: number;
    };
    /** How long a WebSocket may take to open and acknowledge, in ms. Default 5000. */
    wsOpenTimeout?: number;
    /** How long an SSE response may take to show its `retry:` line or a heartbeat before it counts as buffered. Default 5000 ms. */
    sseOpenTimeout?: number;
    /** An SSE stream silent for this long (no event, no heartbeat) is reconnected. Default 45000 ms. */
    sseIdleTimeout?: number;
    /** Long-poll `wait` in seconds. Default 25. */
    longPollWait?: number;
    /** Short-poll interval in ms. Default: the hub's X-Poll-Interval hint (2 s). */
    pollInterval?: number;
    /** How long a poll may take beyond its `wait` before it is abandoned and retried (a dead connection answers never). Default 10000 ms. */
    pollTimeout?: number;
    /** Refresh a JWT this many ms before its `exp`. Default 30000 (or a third of a shorter lifetime). */
    refreshMargin?: number;
    /** Member name for presence when no token names one. */
    name?: string;
    /** WebSocket keep-alive: a `ping` op this often, in ms; a socket without its `pong` within `wsPongTimeout` is replaced. Default 25000 (0: none). */
    wsPingInterval?: number;
    /** How long a WebSocket `ping` may wait for its `pong`, in ms. Default 10000. */
    wsPongTimeout?: number;
}
export interface SubscribeOptions {
    /** Where to start: a cursor, 'earliest' or 'latest' (default). A stored cursor for `key` wins. */
    after?: string;
    /** Name under which the cursor is persisted in the cursor store. */
    key?: string;
    /** Restrict this subscription to these transports. */
    transports?: TransportName[] | 'auto';
    /**
     * The path SSE reads from, under the hub URL. Default `/v1/stream`. Another endpoint that speaks the same stream
     * with its topic fixed, such as the dashboard's `/dashboard/stream`, can be followed with `transports: ['sse']`.
     */
    ssePath?: string;
}
export interface PublishOptions {
    type?: string;
    /** Makes a retried publish append once. Generated when not given. */
    idempotencyKey?: string;
    /** Attempts on network errors, 429 and 5xx. Default 4. */
    attempts?: number;
}
export interface JoinOptions {
    /** The last N events of the room on first join. */
    history?: number;
}
/**
 * The hub's codes that end a subscription: the request or the credential is wrong, so retrying it (or switching
 * transport) would get the same answer for ever. Every code not listed (`rate_limited`, `internal_error`,
 * `store_unavailable`, a proxy's status, ...) is retried with back-off. In the problem spelling; a WebSocket `error`
 * code is the same code with '_' for '-' (the hub's rule). `token-expired` is not here: it renews the token through
 * `getToken`, and ends the subscription only without one. Every HTTP 403 ends it too, whatever its code.
 *
 * The .NET client holds the same list (`CallerErrors`), and docs/clients.md shows it: tests check both against that table.
 */
export declare const CALLER_ERRORS: readonly string[];
/** Whether a problem code or a WebSocket `error` code ends a subscription (see CALLER_ERRORS). */
export declare function isCallerError(code: string | undefined): boolean;
/** An error from the hub or the client; `code` is the hub's problem code when there is one. */
export declare class SwitchboardError extends Error {
    readonly status: number | undefined;
    readonly code: string;
    readonly fatal: boolean;
    readonly transport: TransportName | undefined;
    constructor(message: string, code: string, status?: number, fatal?: boolean, transport?: TransportName);
}
type Listener = (...args: any[]) => void;
declare class Emitter {
    private readonly listeners;
    on(name: string, listener: Listener): this;
    off(name: string, listener: Listener): this;
    protected emit(name: string, ...args: unknown[]): boolean;
}
/** The `exp` claim of a JWT in ms, or undefined for anything else (an API key). */
export declare function tokenExpiry(token: string | undefined): number | undefined;
export declare class Switchboard {
    readonly url: string;
    readonly options: SwitchboardOptions;
    private token;
    private tokenRequest;
    private readonly fetchImpl;
    constructor(url: string, options?: SwitchboardOptions);
    /** The WebSocket constructor to use, or undefined when there is none. */
    get webSocketClass(): any;
    /** @internal */
    fetch(input: string, init?: RequestInit): Promise<Response>;
    /** @internal The current credential, refreshed through getToken when it is about to expire. */
    credential(): Promise<string | undefined>;
    /** @internal Calls getToken (once for concurrent callers) and keeps the answer. */
    refreshToken(): Promise<string>;
    /** @internal */
    get currentToken(): string | undefined;
    /** @internal ms before exp at which a token is refreshed. */
    refreshMarginFor(token: string | undefined): number;
    /** @internal */
    headers(extra?: Record<string, string>): Promise<Record<string, string>>;
    /**
     * Subscribes to topic patterns. Events reach `handler` in seq order, each once, whatever
     * happens to the connection. The subscription is also an async iterable of the events.
     */
    subscribe(patterns: string | string[], options?: SubscribeOptions | ((event: HubEvent) => void), handler?: (event: HubEvent) => void): Subscription;
    /** Publishes one event. Retries on network errors, 429 and 5xx with one idempotency key, so it appends once. */
    publish(topic: string, data?: unknown, options?: PublishOptions): Promise<any>;
    /**
     * A request to the hub with the client's credential (renewed through getToken), for endpoints the client has no
     * method for. `path` is under the hub URL (`/v1/health`). Resolves with the response when it is 2xx or 304; any
     * other answer rejects with a SwitchboardError carrying the hub's problem code and the status (401, 403, ...).
     */
    request(path: string, init?: RequestInit): Promise<Response>;
    /** Joins a presence room over WebSocket: members, join and leave notices, the room's events, send. */
    join(room: string, options?: JoinOptions): Room;
}
interface PresenceConfig {
    history?: number;
    onPresence: (message: any) => void;
    /** The socket once it is open; undefined when it is gone. */
    onSocket: (socket: any) => void;
    /** An ack or error answering one of the room's own requests. */
    onReply: (message: any) => void;
}
export declare class Subscription extends Emitter implements AsyncIterable<HubEvent> {
    readonly patterns: string[];
    /** The cursor after the last delivered event ('latest' or 'earliest' until the hub names one). */
    cursor: string;
    /** The transport in use (or last used). */
    transport: TransportName | undefined;
    state: SubscriptionState;
    /** Resolves when the subscription ends: undefined after close(), the error after a fatal one. */
    readonly closed: Promise<SwitchboardError | undefined>;
    /** While reconnecting: when the next attempt starts (ms since the epoch). */
    retryAt: number | undefined;
    /** Failed attempts since the subscription was last open. */
    failures: number;
    /** A token from getToken was already refused as expired since the subscription was last open. */
    private tokenRenewed;
    /** When the current connection opened (ms), and whether it delivered an event: the back-off resets only for one that worked. */
    private openedAt;
    private deliveredSinceOpen;
    private readonly hub;
    private readonly key;
    private readonly store;
    private readonly transports;
    private readonly handler;
    private readonly presence;
    private lastSeq;
    private isClosed;
    private attempt;
    private readonly disabledUntil;
    private readonly upgradeDelay;
    private current;
    private upgradeTimer;
    private resolveClosed;
    private queue;
    private waiters;
    private endError;
    private historyPending;
    private readonly ssePath;
    /** @internal */
    constructor(hub: Switchboard, patterns: string[], options: SubscribeOptions, handler: ((event: HubEvent) => void) | undefined, presence: PresenceConfig | undefined);
    /** Ends the subscription. */
    close(): void;
    /**
     * Tries again now instead of waiting out the back-off (a "Retry now" button, the network coming back). An attempt
     * still connecting is replaced; an open subscription or a closed one is left alone.
     */
    reconnect(): void;
    [Symbol.asyncIterator](): AsyncIterator<HubEvent>;
    private finish;
    private setState;
    /** @internal Delivers one event, dropping any at or before the last seq seen (the safety net). */
    deliver(event: any, cursor: string): void;
    /** @internal A gap told by the hub: the subscription carries on from the fresh cursor. */
    reset(reason: string, cursor: string): void;
    /** @internal */
    advance(cursor: string | undefined): void;
    private available;
    private choose;
    /** Marks a transport as failing; a better one is tried again later, with doubling delay. */
    private demote;
    /** While on a worse transport, schedules a switch back when a better one may be tried again. */
    private scheduleUpgrade;
    private run;
    /**
     * What a WebSocket `error` for the subscription means: an expiry renews the token through getToken (and ends the
     * subscription without one: the hub would refuse the same token again), a code in CALLER_ERRORS ends it, anything else is
     * retried with back-off.
     */
    private wsErrorEnding;
    /** A JWT past its exp with no getToken to renew it: the hub would refuse it, so the subscription ends before trying. */
    private expiredWithoutRefresh;
    /**
     * A browser (and `ws`) cannot see why a WebSocket did not open: a refused upgrade, a refused credential and a hub
     * that is down (restarting, the network gone) all look alike. So the same credential is tried over HTTP:
     * - the hub cannot be reached either: nothing is wrong with WebSocket, so the subscription stays on it and backs off
     *   (falling back would strand it on SSE until the next upgrade try, as SignalR and Socket.IO do not);
     * - 401 or 403: ends it (or renews an expired token) rather than retrying for ever;
     * - 429 or 503 with Retry-After: the hub is shedding load; every transport would be told the same, so wait it out;
     * - anything else (the hub answers HTTP): WebSocket really is unavailable here, so fall back as before.
     */
    private probeRefusal;
    private pause;
    /** @internal Called by a transport once it is really receiving. */
    opened(transport: TransportName): void;
    private runTransport;
    /** Turns a refused HTTP answer into what to do next. */
    private httpEnding;
    private query;
    private runPolling;
    private resolveLatest;
    private runSse;
    private runWebSocket;
}
/** What the hub answered to a message sent to a room over its WebSocket. */
export interface SendResult {
    seq: number;
    cursor: string;
}
/**
 * A presence room over WebSocket. Events: 'join' (name, members), 'leave' (name, members), 'members', 'event', 'state',
 * 'open', 'retry' (when), 'error', 'reset'.
 */
export declare class Room extends Emitter {
    readonly topic: string;
    members: string[];
    readonly subscription: Subscription;
    private readonly hub;
    private socket;
    private nextId;
    private readonly pending;
    /** @internal */
    constructor(hub: Switchboard, topic: string, options: JoinOptions);
    /** Whether the room's subscription is live, so a send goes over its WebSocket. */
    get connected(): boolean;
    /**
     * Sends to the room. Over the room's WebSocket when it is open: resolves with the event's seq once the hub has
     * appended it, rejects with the hub's error or when the connection drops first (the event may still have been
     * appended). Otherwise by HTTP publish, retried with one idempotency key.
     */
    send(data: unknown, options?: {
        type?: string;
    }): Promise<SendResult>;
    /** Tries to reconnect now rather than after the back-off. */
    reconnect(): void;
    /** Leaves the room. */
    leave(): void;
    private failPending;
}
export {};
