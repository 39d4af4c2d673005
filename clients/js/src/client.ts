// @switchboard/client: one ES module, no runtime dependencies. Runs in browsers and in Node 20+.
//
// Every transport reads the same log and speaks the same cursors, so a subscription can drop,
// switch transport and resume without losing or repeating an event. See docs/clients.md.

export type TransportName = 'websocket' | 'sse' | 'long-poll' | 'poll';

export const ALL_TRANSPORTS: readonly TransportName[] = ['websocket', 'sse', 'long-poll', 'poll'];

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
  backoff?: { initial?: number; max?: number };
  /** After a transport failed, how long until a better one is tried again (doubling). Default 5000 / 60000 ms. */
  upgradeRetry?: { initial?: number; max?: number };
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
export const CALLER_ERRORS: readonly string[] = Object.freeze([
  // the credential
  'unauthorized', 'invalid-token', 'invalid-api-key', 'invalid-credential', 'forbidden', 'origin-not-allowed', 'subject-mismatch',
  // topics, patterns and cursors
  'invalid-topic', 'invalid-pattern', 'missing-topic', 'too-many-patterns', 'invalid-cursor', 'invalid-limit', 'invalid-wait',
  'invalid-query', 'invalid-name',
  // publishing
  'invalid-type', 'reserved-type', 'malformed-json', 'invalid-body', 'payload-too-large', 'batch-too-large',
  'idempotency-key-reused', 'invalid-idempotency-key',
  // WebSocket messages and subscription bookkeeping
  'invalid-json', 'invalid-message', 'missing-field', 'invalid-field', 'unknown-op', 'invalid-state',
  'duplicate-subscription', 'too-many-subscriptions', 'not-subscribed',
]);

const callerErrors = new Set(CALLER_ERRORS);

/** Whether a problem code or a WebSocket `error` code ends a subscription (see CALLER_ERRORS). */
export function isCallerError(code: string | undefined): boolean {
  return typeof code === 'string' && callerErrors.has(code.replace(/_/g, '-'));
}

/** Whether a code says the token expired: the only refusal that renews the token. */
function isExpiry(code: string | undefined): boolean {
  return typeof code === 'string' && code.replace(/_/g, '-') === 'token-expired';
}

/** How long a connection must stay up, when it delivered no event, before the back-off starts afresh (ms). */
const STABLE_AFTER_MS = 5000;

/** An error from the hub or the client; `code` is the hub's problem code when there is one. */
export class SwitchboardError extends Error {
  readonly status: number | undefined;
  readonly code: string;
  readonly fatal: boolean;
  readonly transport: TransportName | undefined;
  constructor(message: string, code: string, status?: number, fatal = false, transport?: TransportName) {
    super(message);
    this.name = 'SwitchboardError';
    this.code = code;
    this.status = status;
    this.fatal = fatal;
    this.transport = transport;
  }
}

type Listener = (...args: any[]) => void;

class Emitter {
  private readonly listeners = new Map<string, Set<Listener>>();
  on(name: string, listener: Listener): this {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(listener);
    return this;
  }
  off(name: string, listener: Listener): this {
    this.listeners.get(name)?.delete(listener);
    return this;
  }
  protected emit(name: string, ...args: unknown[]): boolean {
    const set = this.listeners.get(name);
    if (!set || set.size === 0) return false;
    for (const listener of [...set]) {
      try {
        listener(...args);
      } catch (e) {
        if (name !== 'error') this.emit('error', e);
      }
    }
    return true;
  }
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

/** Why a transport attempt ended; decides what the subscription does next. */
class Ending {
  constructor(
    readonly kind: 'unsupported' | 'transient' | 'fatal' | 'token-expired' | 'retry-after' | 'switch' | 'closed' | 'ended',
    readonly error?: SwitchboardError,
    readonly delay = 0,
  ) {}
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

function retryAfterMs(response: Response): number | undefined {
  const value = response.headers.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}

async function problemOf(response: Response): Promise<{ code: string; detail: string; body: any }> {
  let body: any = undefined;
  try {
    body = await response.json();
  } catch {
    /* not JSON */
  }
  const code = (body && typeof body.code === 'string' && body.code) || `http-${response.status}`;
  const detail = (body && (body.detail || body.title)) || response.statusText || `HTTP ${response.status}`;
  return { code, detail, body };
}

/** The `exp` claim of a JWT in ms, or undefined for anything else (an API key). */
export function tokenExpiry(token: string | undefined): number | undefined {
  if (!token) return undefined;
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const base64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = JSON.parse(atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4)));
    return typeof json.exp === 'number' ? json.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

function randomKey(): string {
  const c = (globalThis as any).crypto;
  if (c && typeof c.randomUUID === 'function') return c.randomUUID();
  let s = '';
  for (let i = 0; i < 32; i++) s += Math.floor(Math.random() * 16).toString(16);
  return s;
}

function isPosition(cursor: string): boolean {
  return cursor !== 'latest' && cursor !== 'earliest';
}

class LocalStorageCursorStore implements CursorStore {
  constructor(private readonly storage: { getItem(k: string): string | null; setItem(k: string, v: string): void }) {}
  get(key: string) {
    return this.storage.getItem('switchboard.cursor.' + key);
  }
  set(key: string, cursor: string) {
    this.storage.setItem('switchboard.cursor.' + key, cursor);
  }
}

function defaultCursorStore(): CursorStore | null {
  try {
    const storage = (globalThis as any).localStorage;
    return storage ? new LocalStorageCursorStore(storage) : null;
  } catch {
    return null;
  }
}

function normalizeTransports(value: TransportName[] | 'auto' | undefined): TransportName[] {
  if (!value || value === 'auto') return [...ALL_TRANSPORTS];
  for (const t of value) {
    if (!ALL_TRANSPORTS.includes(t)) throw new TypeError(`Unknown transport '${t}'`);
  }
  if (value.length === 0) throw new TypeError('At least one transport is needed');
  return [...value];
}

// ---------------------------------------------------------------------------------------------
// The hub
// ---------------------------------------------------------------------------------------------

export class Switchboard {
  readonly url: string;
  readonly options: SwitchboardOptions;
  private token: string | undefined;
  private tokenRequest: Promise<string> | undefined;
  private readonly fetchImpl: typeof fetch;

  constructor(url: string, options: SwitchboardOptions = {}) {
    this.url = url.replace(/\/+$/, '');
    this.options = options;
    this.token = options.token;
    const f = options.fetch ?? (globalThis as any).fetch;
    if (!f) throw new TypeError('No fetch implementation: pass options.fetch');
    this.fetchImpl = (input: any, init?: any) => f(input, init);
  }

  /** The WebSocket constructor to use, or undefined when there is none. */
  get webSocketClass(): any {
    return this.options.WebSocket ?? (globalThis as any).WebSocket;
  }

  /** @internal */
  fetch(input: string, init?: RequestInit): Promise<Response> {
    return this.fetchImpl(input, init);
  }

  /** @internal The current credential, refreshed through getToken when it is about to expire. */
  async credential(): Promise<string | undefined> {
    if (this.options.getToken) {
      const exp = tokenExpiry(this.token);
      if (!this.token || (exp !== undefined && exp - Date.now() <= this.refreshMarginFor(this.token))) {
        return this.refreshToken();
      }
    }
    return this.token;
  }

  /** @internal Calls getToken (once for concurrent callers) and keeps the answer. */
  refreshToken(): Promise<string> {
    const getToken = this.options.getToken;
    if (!getToken) return Promise.reject(new SwitchboardError('The token expired and no getToken was given', 'token-expired', 401, true));
    if (!this.tokenRequest) {
      this.tokenRequest = (async () => {
        try {
          const token = await getToken();
          if (typeof token !== 'string' || token.length === 0) throw new SwitchboardError('getToken returned no token', 'invalid-token', undefined, true);
          this.token = token;
          return token;
        } finally {
          this.tokenRequest = undefined;
        }
      })();
    }
    return this.tokenRequest;
  }

  /** @internal */
  get currentToken(): string | undefined {
    return this.token;
  }

  /** @internal ms before exp at which a token is refreshed. */
  refreshMarginFor(token: string | undefined): number {
    const margin = this.options.refreshMargin ?? 30_000;
    const exp = tokenExpiry(token);
    if (exp === undefined) return margin;
    // A short-lived token is refreshed at two thirds of what is left of it.
    return Math.min(margin, Math.max(0, (exp - Date.now()) / 3));
  }

  /** @internal */
  async headers(extra: Record<string, string> = {}): Promise<Record<string, string>> {
    const headers: Record<string, string> = { ...extra };
    const token = await this.credential();
    if (token) headers['Authorization'] = `Bearer ${token}`;
    return headers;
  }

  /**
   * Subscribes to topic patterns. Events reach `handler` in seq order, each once, whatever
   * happens to the connection. The subscription is also an async iterable of the events.
   */
  subscribe(patterns: string | string[], options?: SubscribeOptions | ((event: HubEvent) => void), handler?: (event: HubEvent) => void): Subscription {
    if (typeof options === 'function') {
      handler = options;
      options = {};
    }
    return new Subscription(this, Array.isArray(patterns) ? patterns : [patterns], options ?? {}, handler, undefined);
  }

  /** Publishes one event. Retries on network errors, 429 and 5xx with one idempotency key, so it appends once. */
  async publish(topic: string, data?: unknown, options: PublishOptions = {}): Promise<any> {
    const key = options.idempotencyKey ?? randomKey();
    const body = JSON.stringify(options.type === undefined ? { data: data ?? null } : { type: options.type, data: data ?? null });
    const attempts = Math.max(1, options.attempts ?? 4);
    let last: unknown;
    for (let attempt = 0; attempt < attempts; attempt++) {
      let response: Response;
      try {
        const headers = await this.headers({ 'Content-Type': 'application/json', 'Idempotency-Key': key });
        response = await this.fetch(`${this.url}/v1/topics/${encodeURIComponent(topic)}/events`, { method: 'POST', headers, body });
      } catch (e) {
        if (e instanceof SwitchboardError) throw e;
        last = e;
        await sleep(backoffDelay(this.options, attempt));
        continue;
      }
      if (response.ok) return response.json();
      const problem = await problemOf(response);
      const error = new SwitchboardError(problem.detail, problem.code, response.status);
      if (response.status === 401 && problem.code === 'token-expired' && this.options.getToken && attempt + 1 < attempts) {
        await this.refreshToken();
        continue;
      }
      if ((response.status === 429 || response.status >= 500) && attempt + 1 < attempts) {
        last = error;
        await sleep(Math.max(retryAfterMs(response) ?? 0, backoffDelay(this.options, attempt)));
        continue;
      }
      throw error;
    }
    // Every rejection is a SwitchboardError (docs/clients.md), so callers branch on `code`: a hub that stayed
    // unreachable through every attempt is 'network-error', as request() says it, not fetch's bare TypeError.
    if (last instanceof SwitchboardError) throw last;
    throw new SwitchboardError(`publish: ${(last as Error | undefined)?.message ?? 'failed'}`, 'network-error');
  }

  /**
   * A request to the hub with the client's credential (renewed through getToken), for endpoints the client has no
   * method for. `path` is under the hub URL (`/v1/health`). Resolves with the response when it is 2xx or 304; any
   * other answer rejects with a SwitchboardError carrying the hub's problem code and the status (401, 403, ...).
   */
  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const extra: Record<string, string> = {};
    new Headers(init.headers ?? {}).forEach((value, name) => (extra[name] = value));
    const headers = await this.headers(extra);
    let response: Response;
    try {
      response = await this.fetch(`${this.url}${path}`, { ...init, headers });
    } catch (e) {
      throw new SwitchboardError(`${path}: ${(e as Error).message}`, 'network-error');
    }
    if (response.ok || response.status === 304) return response;
    const problem = await problemOf(response);
    throw new SwitchboardError(problem.detail, problem.code, response.status, response.status === 401 || response.status === 403);
  }

  /** Joins a presence room over WebSocket: members, join and leave notices, the room's events, send. */
  join(room: string, options: JoinOptions = {}): Room {
    return new Room(this, room, options);
  }
}

function backoffDelay(options: SwitchboardOptions, attempt: number): number {
  const initial = options.backoff?.initial ?? 500;
  const max = options.backoff?.max ?? 30_000;
  const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  return Math.random() * ceiling; // full jitter
}

// ---------------------------------------------------------------------------------------------
// A subscription
// ---------------------------------------------------------------------------------------------

interface PresenceConfig {
  history?: number;
  onPresence: (message: any) => void;
  /** The socket once it is open; undefined when it is gone. */
  onSocket: (socket: any) => void;
  /** An ack or error answering one of the room's own requests. */
  onReply: (message: any) => void;
}

export class Subscription extends Emitter implements AsyncIterable<HubEvent> {
  readonly patterns: string[];
  /** The cursor after the last delivered event ('latest' or 'earliest' until the hub names one). */
  cursor: string;
  /** The transport in use (or last used). */
  transport: TransportName | undefined;
  state: SubscriptionState = 'connecting';
  /** Resolves when the subscription ends: undefined after close(), the error after a fatal one. */
  readonly closed: Promise<SwitchboardError | undefined>;
  /** While reconnecting: when the next attempt starts (ms since the epoch). */
  retryAt: number | undefined;
  /** Failed attempts since the subscription was last open. */
  failures = 0;
  /** A token from getToken was already refused as expired since the subscription was last open. */
  private tokenRenewed = false;
  /** When the current connection opened (ms), and whether it delivered an event: the back-off resets only for one that worked. */
  private openedAt: number | undefined;
  private deliveredSinceOpen = false;

  private readonly hub: Switchboard;
  private readonly key: string | undefined;
  private readonly store: CursorStore | null;
  private readonly transports: TransportName[];
  private readonly handler: ((event: HubEvent) => void) | undefined;
  private readonly presence: PresenceConfig | undefined;
  private lastSeq = 0;
  private isClosed = false;
  private attempt = 0;
  private readonly disabledUntil = new Map<TransportName, number>();
  private readonly upgradeDelay = new Map<TransportName, number>();
  private current: AbortController | undefined;
  private upgradeTimer: ReturnType<typeof setTimeout> | undefined;
  private resolveClosed!: (e: SwitchboardError | undefined) => void;
  private queue: HubEvent[] | undefined;
  private waiters: { resolve: (r: IteratorResult<HubEvent>) => void; reject: (e: unknown) => void }[] = [];
  private endError: SwitchboardError | undefined;
  private historyPending: boolean;
  private readonly ssePath: string;

  /** @internal */
  constructor(hub: Switchboard, patterns: string[], options: SubscribeOptions, handler: ((event: HubEvent) => void) | undefined, presence: PresenceConfig | undefined) {
    super();
    if (patterns.length === 0) throw new TypeError('At least one topic pattern is needed');
    this.hub = hub;
    this.patterns = patterns;
    this.handler = handler;
    this.presence = presence;
    this.historyPending = presence?.history !== undefined;
    this.key = options.key;
    this.store = hub.options.cursorStore === undefined ? defaultCursorStore() : hub.options.cursorStore;
    this.transports = presence ? ['websocket'] : normalizeTransports(options.transports ?? hub.options.transports);
    this.cursor = options.after ?? 'latest';
    this.ssePath = options.ssePath ?? '/v1/stream';
    this.closed = new Promise(resolve => (this.resolveClosed = resolve));
    // Start on the next turn so that listeners added right after subscribe() see every state.
    queueMicrotask(() => void this.run());
  }

  /** Ends the subscription. */
  close(): void {
    this.finish(undefined);
  }

  /**
   * Tries again now instead of waiting out the back-off (a "Retry now" button, the network coming back). An attempt
   * still connecting is replaced; an open subscription or a closed one is left alone.
   */
  reconnect(): void {
    if (this.isClosed || this.state === 'open') return;
    this.current?.abort();
  }

  [Symbol.asyncIterator](): AsyncIterator<HubEvent> {
    if (!this.queue) this.queue = [];
    return {
      next: () => {
        if (this.queue!.length > 0) return Promise.resolve({ value: this.queue!.shift()!, done: false });
        if (this.isClosed) return this.endError ? Promise.reject(this.endError) : Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  private finish(error: SwitchboardError | undefined) {
    if (this.isClosed) return;
    this.isClosed = true;
    this.endError = error;
    clearTimeout(this.upgradeTimer);
    this.current?.abort();
    this.setState('closed');
    if (error) this.emit('error', error);
    for (const waiter of this.waiters.splice(0)) {
      if (error) waiter.reject(error);
      else waiter.resolve({ value: undefined, done: true });
    }
    this.resolveClosed(error);
  }

  private setState(state: SubscriptionState) {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state, this.transport);
  }

  /** @internal Delivers one event, dropping any at or before the last seq seen (the safety net). */
  deliver(event: any, cursor: string) {
    if (this.isClosed) return;
    if (typeof event?.seq === 'number' && event.seq <= this.lastSeq) {
      this.advance(cursor);
      return;
    }
    if (typeof event?.seq === 'number') this.lastSeq = event.seq;
    this.deliveredSinceOpen = true;
    this.advance(cursor);
    const delivered: HubEvent = { seq: event.seq, topic: event.topic, type: event.type, time: event.time, data: event.data, cursor };
    if (this.handler) {
      try {
        this.handler(delivered);
      } catch (e) {
        this.emit('error', e);
      }
    }
    this.emit('event', delivered);
    if (this.queue) {
      const waiter = this.waiters.shift();
      if (waiter) waiter.resolve({ value: delivered, done: false });
      else this.queue.push(delivered);
    }
  }

  /** @internal A gap told by the hub: the subscription carries on from the fresh cursor. */
  reset(reason: string, cursor: string) {
    this.lastSeq = 0; // a new history may number its events afresh
    this.advance(cursor);
    this.emit('reset', { reason, cursor } satisfies ResetInfo);
  }

  /** @internal */
  advance(cursor: string | undefined) {
    if (!cursor || cursor === this.cursor) return;
    this.cursor = cursor;
    if (this.key && this.store && isPosition(cursor)) {
      try {
        const r = this.store.set(this.key, cursor);
        if (r && typeof (r as any).catch === 'function') (r as Promise<void>).catch(e => this.emit('error', e));
      } catch (e) {
        this.emit('error', e);
      }
    }
  }

  private available(transport: TransportName): boolean {
    if (transport === 'websocket' && !this.hub.webSocketClass) return false;
    return (this.disabledUntil.get(transport) ?? 0) <= Date.now();
  }

  private choose(): TransportName {
    for (const t of this.transports) if (this.available(t)) return t;
    // Everything failed recently: the one that comes back first, or the last resort.
    const usable = this.transports.filter(t => t !== 'websocket' || this.hub.webSocketClass);
    if (usable.length === 0) throw new SwitchboardError('No usable transport (no WebSocket implementation given)', 'no-transport', undefined, true);
    return usable.reduce((a, b) => ((this.disabledUntil.get(a) ?? 0) <= (this.disabledUntil.get(b) ?? 0) ? a : b));
  }

  /** Marks a transport as failing; a better one is tried again later, with doubling delay. */
  private demote(transport: TransportName) {
    const initial = this.hub.options.upgradeRetry?.initial ?? 5000;
    const max = this.hub.options.upgradeRetry?.max ?? 60_000;
    const delay = this.upgradeDelay.get(transport) ?? initial;
    this.disabledUntil.set(transport, Date.now() + delay * (0.75 + Math.random() * 0.5));
    this.upgradeDelay.set(transport, Math.min(max, delay * 2));
  }

  /** While on a worse transport, schedules a switch back when a better one may be tried again. */
  private scheduleUpgrade(transport: TransportName, controller: AbortController) {
    clearTimeout(this.upgradeTimer);
    const index = this.transports.indexOf(transport);
    const better = this.transports.slice(0, index).filter(t => t !== 'websocket' || this.hub.webSocketClass);
    if (better.length === 0) return;
    const when = Math.min(...better.map(t => this.disabledUntil.get(t) ?? 0));
    this.upgradeTimer = setTimeout(() => {
      if (!controller.signal.aborted) {
        (controller as any).switching = true;
        controller.abort();
      }
    }, Math.max(0, when - Date.now()));
  }

  private async run() {
    if (this.key && this.store) {
      try {
        const stored = await this.store.get(this.key);
        if (stored) this.cursor = stored;
      } catch (e) {
        this.emit('error', e);
      }
    }
    while (!this.isClosed) {
      let transport: TransportName;
      try {
        transport = this.choose();
      } catch (e) {
        this.finish(e as SwitchboardError);
        return;
      }
      if (transport !== this.transport) {
        const from = this.transport;
        this.transport = transport;
        if (from) this.emit('transport', transport, from);
      }
      const expired = this.expiredWithoutRefresh();
      if (expired) {
        this.finish(expired);
        return;
      }
      const controller = new AbortController();
      this.current = controller;
      this.scheduleUpgrade(transport, controller);
      let ending: Ending;
      try {
        ending = await this.runTransport(transport, controller);
      } catch (e) {
        ending = e instanceof Ending ? e : new Ending('transient', new SwitchboardError(String((e as Error)?.message ?? e), 'network-error', undefined, false, transport));
      }
      clearTimeout(this.upgradeTimer);
      // Only a connection that delivered an event or stayed up STABLE_AFTER_MS starts the back-off afresh: one that a
      // hub (or proxy) accepts, acknowledges and closes at once would otherwise be retried in a tight loop.
      if (this.openedAt !== undefined && (this.deliveredSinceOpen || Date.now() - this.openedAt >= STABLE_AFTER_MS)) this.attempt = 0;
      this.openedAt = undefined;
      if (this.isClosed) return;
      if (ending.kind === 'unsupported' && transport === 'websocket') ending = (await this.probeRefusal(ending, controller)) ?? ending;
      if (this.isClosed) return;
      if ((controller as any).switching) ending = new Ending('switch');
      switch (ending.kind) {
        case 'closed':
          // Not closed by close(): reconnect() cut an attempt short.
          this.setState('reconnecting');
          continue;
        case 'fatal':
          this.finish(ending.error);
          return;
        case 'ended':
          this.finish(undefined);
          return;
        case 'switch':
          this.setState('reconnecting');
          continue;
        case 'token-expired':
          if (this.tokenRenewed) {
            // The token getToken just gave was refused as expired too (it hands out stale tokens, or the hub's clock is
            // ahead): asking again would loop as fast as the hub answers. getToken cannot fix it, so the subscription ends.
            this.finish(
              new SwitchboardError(
                `The hub refused the token from getToken as expired too (${ending.error?.message ?? 'token expired'}): is getToken handing out stale tokens, or a clock off?`,
                'token-expired',
                401,
                true,
                transport,
              ),
            );
            return;
          }
          this.tokenRenewed = true;
          this.setState('reconnecting');
          try {
            await this.hub.refreshToken();
          } catch (e) {
            this.finish(e instanceof SwitchboardError ? e : new SwitchboardError(String(e), 'token-expired', 401, true, transport));
            return;
          }
          continue;
        case 'unsupported':
          this.failures++;
          if (ending.error) this.emit('error', ending.error);
          this.demote(transport);
          this.setState('reconnecting');
          if (this.transports.some(t => t !== transport && this.available(t))) continue; // fall back at once
          await this.pause(backoffDelay(this.hub.options, this.attempt++));
          continue;
        case 'retry-after':
          // The hub's hint is a floor, never a reason to retry sooner than the back-off: "Retry-After: 0" from a busy
          // hub (or a proxy) would otherwise make a tight loop.
          this.failures++;
          this.setState('reconnecting');
          await this.pause(Math.max(ending.delay, backoffDelay(this.hub.options, this.attempt++)));
          continue;
        case 'transient':
        default:
          this.failures++;
          if (ending.error) this.emit('error', ending.error);
          this.setState('reconnecting');
          await this.pause(backoffDelay(this.hub.options, this.attempt++));
          continue;
      }
    }
  }

  /**
   * What a WebSocket `error` for the subscription means: an expiry renews the token through getToken (and ends the
   * subscription without one: the hub would refuse the same token again), a code in CALLER_ERRORS ends it, anything else is
   * retried with back-off.
   */
  private wsErrorEnding(code: string, text: string | undefined, error: SwitchboardError): Ending {
    const transport: TransportName = 'websocket';
    if (isExpiry(code)) {
      return this.hub.options.getToken
        ? new Ending('token-expired', error)
        : new Ending('fatal', new SwitchboardError(`websocket: the token expired and no getToken was given (${text ?? code})`, 'token-expired', 401, true, transport));
    }
    if (isCallerError(code)) {
      const credential = ['unauthorized', 'invalid_token', 'invalid_api_key', 'invalid_credential'].includes(code);
      const status = code === 'forbidden' || code === 'subject_mismatch' || code === 'origin_not_allowed' ? 403 : credential ? 401 : 400;
      return new Ending('fatal', new SwitchboardError(`Refused (${code}): ${text ?? ''}`, code, status, true, transport));
    }
    return new Ending('transient', error);
  }

  /** A JWT past its exp with no getToken to renew it: the hub would refuse it, so the subscription ends before trying. */
  private expiredWithoutRefresh(): SwitchboardError | undefined {
    if (this.hub.options.getToken) return undefined;
    const exp = tokenExpiry(this.hub.currentToken);
    if (exp === undefined || exp > Date.now()) return undefined;
    return new SwitchboardError('The token has expired and no getToken was given to renew it', 'token-expired', 401, true);
  }

  /**
   * A browser (and `ws`) cannot see why a WebSocket did not open: a refused upgrade, a refused credential and a hub
   * that is down (restarting, the network gone) all look alike. So the same credential is tried over HTTP:
   * - the hub cannot be reached either: nothing is wrong with WebSocket, so the subscription stays on it and backs off
   *   (falling back would strand it on SSE until the next upgrade try, as SignalR and Socket.IO do not);
   * - 401 or 403: ends it (or renews an expired token) rather than retrying for ever;
   * - 429 or 503 with Retry-After: the hub is shedding load; every transport would be told the same, so wait it out;
   * - anything else (the hub answers HTTP): WebSocket really is unavailable here, so fall back as before.
   */
  private async probeRefusal(ending: Ending, controller: AbortController): Promise<Ending | undefined> {
    const timeout = this.hub.options.wsOpenTimeout ?? 5000;
    const probe = new AbortController();
    const onAbort = () => probe.abort();
    controller.signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => probe.abort(), timeout);
    try {
      const headers = await this.hub.headers();
      const response = await this.hub.fetch(`${this.hub.url}/v1/events?${this.query({ after: 'latest', limit: '1' })}`, { headers, cache: 'no-store', signal: probe.signal });
      if (response.status === 401 || response.status === 403) return this.httpEnding(response, 'websocket');
      if (response.status === 429 || response.status === 503) {
        const answer = await this.httpEnding(response, 'websocket');
        if (answer.kind === 'retry-after') return answer;
      }
      try {
        await response.body?.cancel();
      } catch {
        /* already read */
      }
      return undefined;
    } catch (e) {
      if (controller.signal.aborted) return new Ending('closed');
      // Unreachable over HTTP too: the hub is down, not the transport.
      return new Ending('transient', ending.error);
    } finally {
      clearTimeout(timer);
      controller.signal.removeEventListener('abort', onAbort);
    }
  }

  private async pause(ms: number) {
    const controller = new AbortController();
    this.current = controller;
    this.retryAt = Date.now() + ms;
    this.emit('retry', this.retryAt);
    await sleep(ms, controller.signal);
    this.retryAt = undefined;
  }

  /** @internal Called by a transport once it is really receiving. */
  opened(transport: TransportName) {
    this.openedAt = Date.now();
    this.deliveredSinceOpen = false;
    this.failures = 0;
    this.tokenRenewed = false;
    this.upgradeDelay.delete(transport);
    this.setState('open');
    this.emit('open', transport);
  }

  private runTransport(transport: TransportName, controller: AbortController): Promise<Ending> {
    switch (transport) {
      case 'websocket':
        return this.runWebSocket(controller);
      case 'sse':
        return this.runSse(controller);
      case 'long-poll':
        return this.runPolling(controller, true);
      case 'poll':
        return this.runPolling(controller, false);
    }
  }

  /** Turns a refused HTTP answer into what to do next. */
  private async httpEnding(response: Response, transport: TransportName): Promise<Ending> {
    const problem = await problemOf(response);
    const error = new SwitchboardError(`${transport}: ${problem.detail}`, problem.code, response.status, false, transport);
    // Only an expiry renews the token; every other 401 and every 403 end the subscription, as the codes in CALLER_ERRORS do.
    if (response.status === 401 && isExpiry(problem.code) && this.hub.options.getToken) return new Ending('token-expired', error);
    if (response.status === 401 || response.status === 403) {
      return new Ending('fatal', new SwitchboardError(`Refused (${response.status} ${problem.code}): ${problem.detail}`, problem.code, response.status, true, transport));
    }
    if (response.status >= 400 && response.status < 500 && isCallerError(problem.code)) {
      return new Ending('fatal', new SwitchboardError(problem.detail, problem.code, response.status, true, transport));
    }
    const after = retryAfterMs(response);
    if ((response.status === 429 || response.status === 503) && after !== undefined) return new Ending('retry-after', error, after);
    return new Ending('unsupported', error);
  }

  private query(extra: Record<string, string>): string {
    const params = new URLSearchParams();
    for (const p of this.patterns) params.append('topic', p);
    for (const [k, v] of Object.entries(extra)) params.set(k, v);
    return params.toString();
  }

  // --- polling ----------------------------------------------------------------------------------

  private async runPolling(controller: AbortController, long: boolean): Promise<Ending> {
    const transport: TransportName = long ? 'long-poll' : 'poll';
    const limit = 1000;
    let etag: string | undefined;
    let first = true;
    while (!controller.signal.aborted) {
      const extra: Record<string, string> = { after: this.cursor, limit: String(limit) };
      // The first long poll answers at once: it proves the transport works before the long holds.
      if (long) extra.wait = first ? '0' : String(this.hub.options.longPollWait ?? 25);
      const headers = await this.hub.headers(etag && !long ? { 'If-None-Match': etag } : {});
      // A request on a connection that died without a close (a network cut, a sleeping laptop) is answered never: abandon it
      // once it is well past the hold the hub was asked for, and retry from the cursor.
      const request = new AbortController();
      const onAbort = () => request.abort();
      controller.signal.addEventListener('abort', onAbort, { once: true });
      const deadline = (long ? Number(extra.wait) * 1000 : 0) + (this.hub.options.pollTimeout ?? 10_000);
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        request.abort();
      }, deadline);
      let response: Response;
      let page: any;
      try {
        try {
          response = await this.hub.fetch(`${this.hub.url}/v1/events?${this.query(extra)}`, { headers, signal: request.signal, cache: 'no-store' });
          if (response.ok && response.status !== 304) page = await response.json();
        } catch (e) {
          if (controller.signal.aborted) return new Ending('closed');
          if (timedOut) return new Ending('transient', new SwitchboardError(`${transport}: no answer within ${deadline} ms`, 'poll-timeout', undefined, false, transport));
          return new Ending('transient', new SwitchboardError(`${transport}: ${(e as Error).message}`, 'network-error', undefined, false, transport));
        }
      } finally {
        clearTimeout(timer);
        controller.signal.removeEventListener('abort', onAbort);
      }
      if (response.status === 410) {
        const problem = await problemOf(response);
        // Only the hub's own 410 (a problem naming the fresh cursor) is a reset. Any other 410 (a proxy's, a page that
        // moved) says nothing about the log: resetting to 'earliest' would report a gap that is not there and replay
        // the whole history as new events.
        if (typeof problem.body?.cursor !== 'string') {
          return new Ending('unsupported', new SwitchboardError(`${transport}: ${problem.detail}`, problem.code, 410, false, transport));
        }
        this.reset(problem.code, problem.body.cursor);
        etag = undefined;
        continue;
      }
      let interval = this.hub.options.pollInterval;
      if (response.status === 304) {
        if (first) {
          first = false;
          this.opened(transport);
        }
      } else if (!response.ok) {
        return this.httpEnding(response, transport);
      } else {
        if (first) {
          first = false;
          this.opened(transport);
        }
        etag = response.headers.get('etag') ?? undefined;
        const events: any[] = page.events ?? [];
        // A page names one cursor, after everything it scanned. The hub's cursors are "<epoch>.<seq>",
        // so each event's own cursor is known (the same one WebSocket and SSE hand out); were they ever
        // not, the events before the last would hold the previous position (a resume repeats, never loses).
        const prefix = typeof page.cursor === 'string' ? /^(.+\.)\d+$/.exec(page.cursor)?.[1] : undefined;
        for (let i = 0; i < events.length; i++) {
          const own = prefix !== undefined && Number.isSafeInteger(events[i].seq) ? prefix + events[i].seq : undefined;
          this.deliver(events[i], own ?? (i === events.length - 1 ? page.cursor : this.cursor));
        }
        this.advance(page.cursor);
        if (events.length >= limit) continue; // more is waiting
      }
      if (!long) {
        if (interval === undefined) {
          const hint = Number(response.headers.get('x-poll-interval'));
          interval = Number.isFinite(hint) && hint > 0 ? hint * 1000 : 2000;
        }
        await sleep(interval, controller.signal);
      }
    }
    return new Ending('closed');
  }

  // --- SSE over fetch streaming --------------------------------------------------------------------

  private async resolveLatest(signal: AbortSignal) {
    // SSE names no cursor before the first event; fix 'latest' to a position first so a switch
    // before any event neither misses nor repeats.
    if (this.cursor !== 'latest') return;
    try {
      const headers = await this.hub.headers();
      const response = await this.hub.fetch(`${this.hub.url}/v1/events?${this.query({ after: 'latest', limit: '1' })}`, { headers, signal });
      if (response.ok) {
        const page: any = await response.json();
        if (this.cursor === 'latest' && typeof page.cursor === 'string') this.advance(page.cursor);
      }
    } catch {
      /* the stream itself will say what is wrong */
    }
  }

  private async runSse(controller: AbortController): Promise<Ending> {
    const transport: TransportName = 'sse';
    await this.resolveLatest(controller.signal);
    if (controller.signal.aborted) return new Ending('closed');
    const extra: Record<string, string> = {};
    const headerExtra: Record<string, string> = { Accept: 'text/event-stream' };
    if (isPosition(this.cursor)) headerExtra['Last-Event-ID'] = this.cursor;
    else extra.after = this.cursor;
    const headers = await this.hub.headers(headerExtra);
    const openTimeout = this.hub.options.sseOpenTimeout ?? 5000;
    const idleTimeout = this.hub.options.sseIdleTimeout ?? 45_000;
    let buffered = false;
    let idle = false;
    let timer = setTimeout(() => {
      buffered = true;
      controller.abort();
    }, openTimeout);
    const alive = (isOpen: boolean) => {
      clearTimeout(timer);
      if (!isOpen) return;
      timer = setTimeout(() => {
        idle = true;
        controller.abort();
      }, idleTimeout);
    };
    let opened = false;
    const open = () => {
      if (!opened) {
        opened = true;
        this.opened(transport);
      }
      alive(true);
    };
    try {
      let response: Response;
      try {
        response = await this.hub.fetch(`${this.hub.url}${this.ssePath}?${this.query(extra)}`, { headers, signal: controller.signal, cache: 'no-store' });
      } catch (e) {
        if (buffered) return new Ending('unsupported', new SwitchboardError(`sse: no answer within ${openTimeout} ms (a buffering proxy?)`, 'sse-buffered', undefined, false, transport));
        if (controller.signal.aborted) return new Ending('closed');
        return new Ending('transient', new SwitchboardError(`sse: ${(e as Error).message}`, 'network-error', undefined, false, transport));
      }
      if (!response.ok) {
        clearTimeout(timer);
        return this.httpEnding(response, transport);
      }
      // 204 is how a stream with an end says it is over (a job's stream, resumed after its final event): an EventSource
      // stops reconnecting on it, and so does the subscription.
      if (response.status === 204) return new Ending('ended');
      if (!(response.headers.get('content-type') ?? '').startsWith('text/event-stream') || !response.body) {
        clearTimeout(timer);
        return new Ending('unsupported', new SwitchboardError('sse: the answer is not text/event-stream', 'not-event-stream', response.status, false, transport));
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let text = '';
      let eventName = '';
      let data: string[] = [];
      let id: string | undefined;
      let ending: Ending | undefined;
      const dispatch = () => {
        const name = eventName;
        const payload = data.join('\n');
        const eventId = id;
        eventName = '';
        data = [];
        id = undefined;
        if (name === '' && payload === '') return;
        if (name === 'switchboard.reset') {
          const r = JSON.parse(payload);
          this.reset(r.reason, r.cursor ?? eventId);
        } else if (name === 'switchboard.token-expired') {
          ending = new Ending('token-expired', new SwitchboardError('sse: token expired', 'token-expired', 401, false, transport));
        } else if (name === '' || name === 'message') {
          this.deliver(JSON.parse(payload), eventId ?? this.cursor);
        }
      };
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (e) {
          if (buffered) return new Ending('unsupported', new SwitchboardError(`sse: no retry: line or heartbeat within ${openTimeout} ms (a buffering proxy?)`, 'sse-buffered', undefined, false, transport));
          if (idle) return new Ending('transient', new SwitchboardError('sse: the stream went silent', 'sse-idle', undefined, false, transport));
          if (controller.signal.aborted) return new Ending('closed');
          return new Ending('transient', new SwitchboardError(`sse: ${(e as Error).message}`, 'network-error', undefined, false, transport));
        }
        if (chunk.done) {
          if (!opened) return new Ending('unsupported', new SwitchboardError('sse: the stream ended before its first line', 'sse-closed', undefined, false, transport));
          return new Ending('transient');
        }
        text += decoder.decode(chunk.value, { stream: true });
        let newline: number;
        while ((newline = text.search(/\r\n|\r|\n/)) >= 0) {
          if (text[newline] === '\r' && newline === text.length - 1) break; // a \r\n may be split
          const line = text.slice(0, newline);
          text = text.slice(newline + (text.startsWith('\r\n', newline) ? 2 : 1));
          if (line === '') {
            dispatch();
            if (ending) {
              controller.abort();
              return ending;
            }
            continue;
          }
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          let value = colon < 0 ? '' : line.slice(colon + 1);
          if (value.startsWith(' ')) value = value.slice(1);
          switch (field) {
            case '': // a comment: the heartbeat
            case 'retry':
              open();
              break;
            case 'event':
              eventName = value;
              break;
            case 'data':
              data.push(value);
              open();
              break;
            case 'id':
              id = value;
              break;
          }
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }

  // --- WebSocket --------------------------------------------------------------------------------

  private async runWebSocket(controller: AbortController): Promise<Ending> {
    const transport: TransportName = 'websocket';
    const WS = this.hub.webSocketClass;
    const token = await this.hub.credential();
    const url = new URL(this.hub.url + '/v1/ws');
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    if (token) url.searchParams.set('access_token', token);
    if (this.hub.options.name) url.searchParams.set('name', this.hub.options.name);
    return new Promise<Ending>(resolve => {
      let socket: any;
      try {
        socket = new WS(url.toString(), 'switchboard.v1');
      } catch (e) {
        resolve(new Ending('unsupported', new SwitchboardError(`websocket: ${(e as Error).message}`, 'websocket-failed', undefined, false, transport)));
        return;
      }
      let acked = false;
      let settled = false;
      let refreshTimer: ReturnType<typeof setTimeout> | undefined;
      let refreshId = 0;
      let pingTimer: ReturnType<typeof setInterval> | undefined;
      let pongTimer: ReturnType<typeof setTimeout> | undefined;
      let pingId = 0;
      const finish = (ending: Ending) => {
        if (settled) return;
        settled = true;
        clearTimeout(openTimer);
        clearTimeout(refreshTimer);
        clearInterval(pingTimer);
        clearTimeout(pongTimer);
        this.presence?.onSocket(undefined);
        controller.signal.removeEventListener('abort', onAbort);
        try {
          if (socket.readyState === 0 || socket.readyState === 1) socket.close(1000);
        } catch {
          /* already gone */
        }
        resolve(ending);
      };
      const openTimer = setTimeout(
        () => finish(new Ending('unsupported', new SwitchboardError('websocket: the handshake timed out', 'websocket-timeout', undefined, false, transport))),
        this.hub.options.wsOpenTimeout ?? 5000,
      );
      const onAbort = () => finish(new Ending('closed'));
      controller.signal.addEventListener('abort', onAbort, { once: true });
      const scheduleRefresh = () => {
        clearTimeout(refreshTimer);
        const current = this.hub.currentToken;
        const exp = tokenExpiry(current);
        if (!this.hub.options.getToken || exp === undefined) return;
        const wait = Math.max(0, exp - Date.now() - this.hub.refreshMarginFor(current));
        refreshTimer = setTimeout(async () => {
          try {
            const fresh = await this.hub.refreshToken();
            if (!settled) socket.send(JSON.stringify({ op: 'refresh', id: `refresh-${++refreshId}`, token: fresh }));
          } catch (e) {
            this.emit('error', e);
          }
        }, Math.min(wait, 2 ** 31 - 1));
      };
      // A connection that died without a close (a sleeping laptop, a lost network) shows as a missing pong.
      const startPings = () => {
        const every = this.hub.options.wsPingInterval ?? 25_000;
        if (!(every > 0)) return;
        pingTimer = setInterval(() => {
          if (settled || pongTimer !== undefined) return;
          try {
            socket.send(JSON.stringify({ op: 'ping', id: `ping-${++pingId}` }));
          } catch {
            return;
          }
          pongTimer = setTimeout(
            () => finish(new Ending('transient', new SwitchboardError('websocket: no pong; the connection is dead', 'websocket-no-pong', undefined, false, transport))),
            this.hub.options.wsPongTimeout ?? 10_000,
          );
        }, every);
      };
      socket.onopen = () => {
        const message: any = { op: 'subscribe', id: 'sub', topics: this.patterns };
        if (this.presence) message.presence = true;
        if (this.historyPending && !isPosition(this.cursor)) message.history = this.presence!.history;
        else message.after = this.cursor;
        socket.send(JSON.stringify(message));
        this.presence?.onSocket(socket);
      };
      socket.onmessage = (m: { data: unknown }) => {
        if (settled) return; // an abandoned socket (no pong, replaced) may still deliver; the next one resumes instead
        let message: any;
        try {
          message = JSON.parse(String(m.data));
        } catch {
          return;
        }
        switch (message.op) {
          case 'ack':
            if (message.id === 'sub' && !acked) {
              acked = true;
              clearTimeout(openTimer);
              this.historyPending = false;
              if (!isPosition(this.cursor) && message.cursor) this.advance(message.cursor);
              this.opened(transport);
              scheduleRefresh();
              startPings();
            } else if (typeof message.id === 'string' && message.id.startsWith('refresh-')) {
              scheduleRefresh();
            } else {
              this.presence?.onReply(message);
            }
            break;
          case 'pong':
            clearTimeout(pongTimer);
            pongTimer = undefined;
            break;
          case 'event':
            if (message.subscription === 'sub') this.deliver(message.event, message.cursor);
            break;
          case 'reset':
            if (message.subscription === 'sub') this.reset(message.reason, message.cursor);
            break;
          case 'presence':
            this.presence?.onPresence(message);
            break;
          case 'error': {
            const code = String(message.code ?? 'error');
            const error = new SwitchboardError(`websocket: ${message.message ?? code}`, code, undefined, false, transport);
            if (message.id === 'sub' || (message.subscription === 'sub' && !message.id)) {
              finish(this.wsErrorEnding(code, message.message, error));
            } else if (typeof message.id === 'string' && message.id.startsWith('refresh-')) {
              this.emit('error', error); // the server closes with 1008 at expiry; we reconnect then
            } else if (message.id != null && this.presence) {
              this.presence.onReply(message);
            } else {
              this.emit('error', error);
            }
            break;
          }
        }
      };
      socket.onerror = () => {
        /* onclose follows */
      };
      socket.onclose = (e: { code: number; reason: string }) => {
        const reason = String(e?.reason ?? '');
        if (!acked) {
          finish(new Ending('unsupported', new SwitchboardError(`websocket: closed before the first frame (${e?.code}${reason ? ' ' + reason : ''})`, 'websocket-refused', undefined, false, transport)));
        } else if (e?.code === 1008 && /token/i.test(reason)) {
          finish(this.hub.options.getToken ? new Ending('token-expired') : new Ending('fatal', new SwitchboardError('websocket: token expired and no getToken was given', 'token-expired', 401, true, transport)));
        } else {
          finish(new Ending('transient', new SwitchboardError(`websocket: closed (${e?.code}${reason ? ' ' + reason : ''})`, 'websocket-closed', undefined, false, transport)));
        }
      };
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Presence rooms
// ---------------------------------------------------------------------------------------------

/** What the hub answered to a message sent to a room over its WebSocket. */
export interface SendResult {
  seq: number;
  cursor: string;
}

/**
 * A presence room over WebSocket. Events: 'join' (name, members), 'leave' (name, members), 'members', 'event', 'state',
 * 'open', 'retry' (when), 'error', 'reset'.
 */
export class Room extends Emitter {
  readonly topic: string;
  members: string[] = [];
  readonly subscription: Subscription;
  private readonly hub: Switchboard;
  private socket: any;
  private nextId = 0;
  private readonly pending = new Map<string, { resolve: (r: SendResult) => void; reject: (e: SwitchboardError) => void }>();

  /** @internal */
  constructor(hub: Switchboard, topic: string, options: JoinOptions) {
    super();
    this.hub = hub;
    this.topic = topic;
    this.subscription = new Subscription(hub, [topic], { transports: ['websocket'] }, event => this.emit('event', event), {
      history: options.history,
      onSocket: socket => {
        this.socket = socket;
        if (!socket) this.failPending(new SwitchboardError('Not confirmed: the connection dropped', 'connection-lost', undefined, false, 'websocket'));
      },
      onPresence: message => {
        if (message.topic !== this.topic || !Array.isArray(message.members)) return;
        this.members = message.members;
        if (message.joined) this.emit('join', message.joined, this.members);
        if (message.left) this.emit('leave', message.left, this.members);
        this.emit('members', this.members);
      },
      onReply: message => {
        const waiter = this.pending.get(message.id);
        if (!waiter) {
          if (message.op === 'error') this.emit('error', new SwitchboardError(`websocket: ${message.message ?? message.code}`, String(message.code ?? 'error'), undefined, false, 'websocket'));
          return;
        }
        this.pending.delete(message.id);
        if (message.op === 'ack') waiter.resolve({ seq: message.seq, cursor: message.cursor });
        else waiter.reject(new SwitchboardError(String(message.message ?? message.code), String(message.code ?? 'error'), undefined, false, 'websocket'));
      },
    });
    for (const name of ['state', 'error', 'reset', 'open', 'retry']) this.subscription.on(name, (...args: unknown[]) => this.emit(name, ...args));
  }

  /** Whether the room's subscription is live, so a send goes over its WebSocket. */
  get connected(): boolean {
    return !!this.socket && this.socket.readyState === 1 && this.subscription.state === 'open';
  }

  /**
   * Sends to the room. Over the room's WebSocket when it is open: resolves with the event's seq once the hub has
   * appended it, rejects with the hub's error or when the connection drops first (the event may still have been
   * appended). Otherwise by HTTP publish, retried with one idempotency key.
   */
  send(data: unknown, options: { type?: string } = {}): Promise<SendResult> {
    if (this.connected) {
      const id = `p${++this.nextId}`;
      const message: any = { op: 'publish', id, topic: this.topic, data };
      if (options.type) message.type = options.type;
      return new Promise<SendResult>((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        try {
          this.socket.send(JSON.stringify(message));
        } catch (e) {
          this.pending.delete(id);
          reject(new SwitchboardError(`websocket: ${(e as Error).message}`, 'connection-lost', undefined, false, 'websocket'));
        }
      });
    }
    return this.hub.publish(this.topic, data, { type: options.type }).then((r: any) => ({ seq: r?.seq, cursor: r?.cursor }));
  }

  /** Tries to reconnect now rather than after the back-off. */
  reconnect(): void {
    this.subscription.reconnect();
  }

  /** Leaves the room. */
  leave(): void {
    this.subscription.close();
    this.failPending(new SwitchboardError('Left the room', 'closed', undefined, false, 'websocket'));
  }

  private failPending(error: SwitchboardError) {
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }
}
