// Switchboard chat: a browser client for the switchboard.v1 WebSocket protocol.
//
// One WebSocket to ../v1/ws?name=<name>, one subscription to the room topic chat.<room> with presence.
// On a protected hub the page is opened with ?token=<subscriber token>: the token goes on the WebSocket
// URL as access_token (browsers cannot set headers there), and the name is the token's presence name
// (or its subject), which the server enforces anyway. A subscription the server refuses (forbidden or
// unauthorized) is shown as such and not retried.
// The first join asks for the last HISTORY events; every later (re)connection resumes with
// `after: <last cursor seen>`, so nothing is missed or shown twice. A `reset` (the server's log no
// longer has our position) reloads the history from scratch. User text only ever goes into the page
// through textContent.
(() => {
  'use strict';

  const PROTOCOL = 'switchboard.v1';
  const MESSAGE_TYPE = 'chat.message';
  const HISTORY = 50;
  const MAX_SHOWN = 500; // messages kept in the page
  const ROOM_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
  const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/; // what the server refuses in a name
  const BACKOFF_FIRST_MS = 500;
  const BACKOFF_MAX_MS = 30_000;
  const OFFLINE_AFTER_ATTEMPTS = 5; // failed reconnects before the status says "offline"
  const PING_EVERY_MS = 25_000;
  const PONG_TIMEOUT_MS = 10_000;

  const byId = (id) => document.getElementById(id);
  const ui = {
    joinView: byId('join-view'),
    joinForm: byId('join-form'),
    nameInput: byId('name-input'),
    roomInput: byId('room-input'),
    joinError: byId('join-error'),
    chatView: byId('chat-view'),
    roomName: byId('room-name'),
    me: byId('me'),
    status: byId('status'),
    statusText: byId('status-text'),
    banner: byId('banner'),
    bannerText: byId('banner-text'),
    retryButton: byId('retry-button'),
    leaveButton: byId('leave-button'),
    members: document.querySelector('.members'),
    memberList: byId('member-list'),
    memberCount: byId('member-count'),
    scroller: byId('scroller'),
    empty: byId('empty'),
    messageList: byId('message-list'),
    composer: byId('composer'),
    messageInput: byId('message-input'),
    sendButton: byId('send-button'),
  };

  const chat = {
    joined: false,
    name: '',
    room: '',
    topic: '',
    socket: null,
    generation: 0, // bumped per socket; events from an abandoned socket are ignored
    subscription: null, // id of the live subscription
    subscribed: false, // its ack has arrived
    lastCursor: null, // the position to resume after
    seen: new Set(), // seqs shown, so nothing is shown twice
    nextId: 0,
    pending: new Map(), // publish id -> pending bubble
    confirmed: new Map(), // seq -> pending bubble whose publish was acked but whose event has not arrived yet
    attempt: 0, // failed connection attempts in a row
    everConnected: false,
    retryTimer: 0,
    retryAt: 0,
    countdownTimer: 0,
    pingTimer: 0,
    pongTimer: 0,
    token: null, // the subscriber token from ?token=, if any
    refused: false, // the server refused the room: no more reconnecting
  };

  // ---- names and the URL --------------------------------------------------------------------------

  function validateName(name) {
    if (name.length === 0) return 'Enter a name.';
    if (name.length > 64) return 'A name is at most 64 characters.';
    if (CONTROL_CHARS.test(name)) return 'A name cannot contain control characters.';
    return null;
  }

  function validateRoom(room) {
    if (room.length === 0) return 'Enter a room.';
    if (!ROOM_PATTERN.test(room)) return 'A room name uses only letters, digits, _ and - (at most 64).';
    return null;
  }

  function writeUrl(name, room) {
    const url = new URL(location.href);
    url.search = '';
    if (chat.token) url.searchParams.set('token', chat.token); // the token names us; no name parameter
    else if (name) url.searchParams.set('name', name);
    if (room) url.searchParams.set('room', room);
    history.replaceState(null, '', url);
  }

  /**
   * The token's claims, read only to show the name and notice expiry early. The page trusts nothing in it:
   * the server verifies the token and decides the name and what may be read.
   */
  function readToken(token) {
    try {
      const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      const bytes = Uint8Array.from(atob(part.padEnd(Math.ceil(part.length / 4) * 4, '=')), (c) => c.charCodeAt(0));
      const claims = JSON.parse(new TextDecoder().decode(bytes));
      const name = claims?.switchboard?.presence ?? claims?.sub;
      return typeof name === 'string' && name ? { name, expires: typeof claims.exp === 'number' ? claims.exp * 1000 : null } : null;
    } catch {
      return null;
    }
  }

  function start() {
    const query = new URLSearchParams(location.search);
    let name = (query.get('name') ?? '').trim();
    const room = (query.get('room') ?? '').trim();
    const token = (query.get('token') ?? '').trim();
    if (token) {
      chat.token = token;
      const claims = readToken(token);
      name = claims?.name ?? '';
      ui.nameInput.readOnly = true;
      ui.nameInput.title = 'Your name comes from your access token.';
      if (!claims) {
        ui.nameInput.value = '';
        showJoinError('The access token in the address cannot be read; ask for a new link.');
        showJoin();
        return;
      }
    }
    if (name) ui.nameInput.value = name;
    if (room) ui.roomInput.value = room;
    if (name && room) {
      const problem = validateName(name) ?? validateRoom(room);
      if (!problem) {
        join(name, room);
        return;
      }
      showJoinError(problem);
    }
    showJoin();
  }

  function showJoin() {
    ui.chatView.hidden = true;
    ui.joinView.hidden = false;
    document.title = 'Switchboard chat';
    (ui.nameInput.value || ui.nameInput.readOnly ? ui.roomInput : ui.nameInput).focus();
  }

  function showJoinError(message) {
    ui.joinError.textContent = message;
    ui.joinError.hidden = !message;
  }

  ui.joinForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const name = ui.nameInput.value.trim();
    const room = ui.roomInput.value.trim();
    const problem = validateName(name) ?? validateRoom(room);
    showJoinError(problem ?? '');
    if (!problem) join(name, room);
  });

  // ---- joining and leaving ------------------------------------------------------------------------

  function join(name, room) {
    chat.joined = true;
    chat.name = name;
    chat.room = room;
    chat.topic = `chat.${room}`;
    chat.lastCursor = null;
    chat.attempt = 0;
    chat.everConnected = false;
    chat.refused = false;
    clearMessages();
    renderMembers([]);
    writeUrl(name, room);

    ui.roomName.textContent = `#${room}`;
    ui.me.textContent = `as ${name}`;
    ui.messageInput.placeholder = `Message #${room}`;
    document.title = `#${room} · Switchboard chat`;
    ui.joinView.hidden = true;
    ui.chatView.hidden = false;
    connect();
    ui.messageInput.focus();
  }

  ui.leaveButton.addEventListener('click', () => {
    chat.joined = false;
    clearTimeout(chat.retryTimer);
    clearInterval(chat.countdownTimer);
    closeSocket(1000, 'left the room');
    writeUrl(chat.name, null);
    showJoin();
  });

  // ---- the connection -----------------------------------------------------------------------------

  function connect() {
    clearTimeout(chat.retryTimer);
    chat.retryTimer = 0;
    if (!chat.joined) return;
    closeSocket(1000, 'reconnecting');
    const expires = chat.token ? readToken(chat.token)?.expires : null;
    if (expires && expires <= Date.now()) {
      // The server would refuse it before the WebSocket opens, where the page cannot see why.
      refuse('Your access token has expired; ask for a new link.');
      return;
    }

    const generation = ++chat.generation;
    const url = new URL('../v1/ws', location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    url.search = '';
    url.hash = '';
    if (chat.token) url.searchParams.set('access_token', chat.token);
    else url.searchParams.set('name', chat.name);

    if (chat.attempt >= OFFLINE_AFTER_ATTEMPTS) setStatus('offline');
    else setStatus(chat.everConnected || chat.attempt > 0 ? 'reconnecting' : 'connecting');
    let socket;
    try {
      socket = new WebSocket(url, PROTOCOL);
    } catch (error) {
      console.warn('switchboard chat: cannot open the WebSocket', error);
      scheduleReconnect();
      return;
    }

    chat.socket = socket;
    chat.subscribed = false;
    socket.addEventListener('open', () => {
      if (generation !== chat.generation) return;
      subscribe();
      startHeartbeat();
    });
    socket.addEventListener('message', (e) => {
      if (generation !== chat.generation) return;
      let message;
      try {
        message = JSON.parse(e.data);
      } catch {
        console.warn('switchboard chat: a message that is not JSON', e.data);
        return;
      }
      handle(message);
    });
    socket.addEventListener('close', (e) => {
      if (generation !== chat.generation) return;
      onClosed(e.code, e.reason);
    });
    // An error is always followed by close, which does the work.
  }

  /** Drops the current socket (if any) without reacting to its close. */
  function closeSocket(code, reason) {
    stopHeartbeat();
    const socket = chat.socket;
    chat.socket = null;
    chat.subscribed = false;
    chat.generation++;
    updateComposer();
    if (socket && socket.readyState <= WebSocket.OPEN) {
      try {
        socket.close(code, reason);
      } catch {
        // already closing
      }
    }
  }

  function onClosed(code, reason) {
    stopHeartbeat();
    const wasSubscribed = chat.subscribed;
    chat.socket = null;
    chat.subscribed = false;
    ui.members.classList.add('stale');
    failPending('Not confirmed: the connection dropped.');
    updateComposer();
    if (!chat.joined || chat.refused) return;

    console.info(`switchboard chat: connection closed (${code}${reason ? `: ${reason}` : ''})`);
    if (code === 1013 && wasSubscribed) {
      // Too slow: resume right away from the last cursor.
      scheduleReconnect(100);
    } else if (code === 1008) {
      // Policy (e.g. rate limit): back off for a good while.
      scheduleReconnect(Math.max(10_000, backoff(chat.attempt + 1)));
    } else {
      scheduleReconnect();
    }
  }

  function backoff(attempt) {
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.max(0, attempt - 1));
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2); // jittered, so clients do not return in step
  }

  function scheduleReconnect(delay) {
    clearTimeout(chat.retryTimer);
    chat.attempt++;
    const wait = delay ?? backoff(chat.attempt);
    chat.retryAt = Date.now() + wait;
    chat.retryTimer = setTimeout(connect, wait);
    setStatus(navigator.onLine === false || chat.attempt >= OFFLINE_AFTER_ATTEMPTS ? 'offline' : 'reconnecting');
  }

  /**
   * Skips the back-off wait: when the network comes back or the tab is shown again (if no attempt is under
   * way), or on "Retry now" (which also replaces an attempt that is still connecting).
   */
  function reconnectNow(replaceAttempt = false) {
    if (!chat.joined || chat.refused || chat.socket?.readyState === WebSocket.OPEN) return;
    if (chat.socket && !replaceAttempt) return;
    connect();
  }

  ui.retryButton.addEventListener('click', () => reconnectNow(true));
  window.addEventListener('online', () => reconnectNow());
  window.addEventListener('offline', () => {
    if (!chat.subscribed && chat.joined) setStatus('offline');
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') reconnectNow();
  });

  // An application-level ping: a connection that died without a close (a sleeping laptop, a lost
  // network) is noticed within PING_EVERY_MS + PONG_TIMEOUT_MS and replaced.
  function startHeartbeat() {
    stopHeartbeat();
    chat.pingTimer = setInterval(() => {
      if (!send({ op: 'ping', id: `ping-${++chat.nextId}` })) return;
      clearTimeout(chat.pongTimer);
      chat.pongTimer = setTimeout(() => {
        console.warn('switchboard chat: no pong; reconnecting');
        closeSocket(4000, 'no pong');
        onClosed(4000, 'no pong');
      }, PONG_TIMEOUT_MS);
    }, PING_EVERY_MS);
  }

  function stopHeartbeat() {
    clearInterval(chat.pingTimer);
    clearTimeout(chat.pongTimer);
  }

  function send(message) {
    const socket = chat.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(message));
    return true;
  }

  /**
   * Subscribes to the room. With a cursor (a reconnection) it resumes after it; without one (the first
   * join, or after a reset) it starts over from the room's last HISTORY events.
   */
  function subscribe() {
    const id = `room-${++chat.nextId}`;
    const request = { op: 'subscribe', id, topics: [chat.topic], presence: true };
    if (chat.lastCursor) {
      request.after = chat.lastCursor;
    } else {
      request.history = HISTORY;
      clearMessages();
    }
    chat.subscription = id;
    chat.subscribed = false;
    send(request);
  }

  // ---- what the server says -----------------------------------------------------------------------

  function handle(message) {
    switch (message.op) {
      case 'ack':
        onAck(message);
        break;
      case 'event':
        if (message.subscription !== chat.subscription) return; // from a subscription being replaced
        onEvent(message.event);
        if (typeof message.cursor === 'string') chat.lastCursor = message.cursor;
        break;
      case 'presence':
        if (message.topic === chat.topic) onPresence(message);
        break;
      case 'reset':
        if (message.subscription === chat.subscription) onReset(message);
        break;
      case 'pong':
        clearTimeout(chat.pongTimer);
        break;
      case 'error':
        onError(message);
        break;
      default:
        break;
    }
  }

  function onAck(message) {
    if (message.id === chat.subscription) {
      chat.subscribed = true;
      chat.everConnected = true;
      chat.attempt = 0;
      // The start position: what to resume after if the connection drops before any event arrives.
      if (!chat.lastCursor && typeof message.cursor === 'string') chat.lastCursor = message.cursor;
      ui.members.classList.remove('stale');
      setStatus('connected');
      updateComposer();
      return;
    }

    const bubble = chat.pending.get(message.id);
    if (bubble) {
      chat.pending.delete(message.id);
      if (chat.seen.has(message.seq)) {
        bubble.remove(); // its event already arrived
      } else {
        chat.confirmed.set(message.seq, bubble);
      }
    }
  }

  function onEvent(event) {
    if (!event || typeof event.seq !== 'number' || chat.seen.has(event.seq)) return;
    chat.seen.add(event.seq);
    if (event.type !== MESSAGE_TYPE || !event.data || typeof event.data.text !== 'string') return;

    const from = typeof event.data.from === 'string' ? event.data.from : 'someone';
    const bubble = chat.confirmed.get(event.seq);
    if (bubble) {
      chat.confirmed.delete(event.seq);
      bubble.remove();
    } else if (from === chat.name) {
      // A message of ours that was sent before a drop and made it after all.
      for (const failed of ui.messageList.querySelectorAll('.msg.failed')) {
        if (failed.dataset.text === event.data.text) {
          failed.remove();
          break;
        }
      }
    }

    addMessage(from, event.data.text, event.time, event.seq);
  }

  function onPresence(message) {
    renderMembers(Array.isArray(message.members) ? message.members : []);
    const { joined, left } = message;
    if (typeof left === 'string' && left !== chat.name) {
      addNotice(`${left} left`).dataset.left = left;
    }
    if (typeof joined === 'string' && joined !== chat.name) {
      // Someone back right after leaving (a reload, a network blip) is no news: drop the "left" line instead.
      const previous = lastConfirmed();
      if (previous?.dataset.left === joined) previous.remove();
      else addNotice(`${joined} joined`);
    }
  }

  /** The newest line above any pending bubbles. */
  function lastConfirmed() {
    const firstPending = ui.messageList.querySelector('.msg.pending, .msg.failed');
    return firstPending ? firstPending.previousElementSibling : ui.messageList.lastElementChild;
  }

  function onReset(message) {
    // Our position is gone from the log (the server restarted without its store, or retention removed it).
    // Start over from the room's recent history: subscribe afresh first, then drop the old subscription,
    // so our presence in the room never lapses.
    console.info(`switchboard chat: reset (${message.reason}); reloading history`);
    const old = chat.subscription;
    chat.lastCursor = null;
    chat.seen.clear();
    chat.confirmed.clear();
    subscribe();
    addNotice('The room’s history was reset; showing it again from the server.');
    send({ op: 'unsubscribe', id: `unsub-${++chat.nextId}`, subscription: old });
  }

  function onError(message) {
    const text = typeof message.message === 'string' ? message.message : message.code;
    const bubble = chat.pending.get(message.id);
    if (bubble) {
      chat.pending.delete(message.id);
      markFailed(bubble, `Not sent: ${text}`);
      return;
    }

    const refusal = message.code === 'forbidden' || message.code === 'unauthorized';
    if (refusal && (message.id === chat.subscription || message.id == null)) {
      // Not allowed to read this room (no token, or one for other rooms): retrying cannot help.
      refuse(message.code === 'unauthorized'
        ? `This hub needs an access token to read #${chat.room}; open the link you were given (with ?token=…). Server: ${text}`
        : `Your access token does not allow #${chat.room}. Server: ${text}`);
      return;
    }

    if (message.id === chat.subscription && chat.lastCursor) {
      // The server refused our cursor: start over from the history rather than giving up.
      console.warn('switchboard chat: resume refused; reloading history', message);
      chat.lastCursor = null;
      subscribe();
      return;
    }

    addNotice(`Server: ${text}`, true);
  }

  /** Stops for good: shows why the room cannot be read, and neither reconnects nor resubscribes. */
  function refuse(text) {
    chat.refused = true;
    clearTimeout(chat.retryTimer);
    chat.retryTimer = 0;
    closeSocket(1000, 'refused');
    setStatus('refused');
    ui.bannerText.textContent = text;
    ui.members.classList.add('stale');
    ui.empty.hidden = true; // not "Say hello!" in a room we may not enter
  }

  // ---- sending ------------------------------------------------------------------------------------

  function updateComposer() {
    ui.sendButton.disabled = !chat.subscribed;
  }

  ui.composer.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = ui.messageInput.value.trim();
    if (!text || !chat.subscribed) return;
    publish(text);
    ui.messageInput.value = '';
    ui.messageInput.focus();
  });

  function publish(text) {
    const id = `msg-${++chat.nextId}`;
    const sent = send({ op: 'publish', id, topic: chat.topic, type: MESSAGE_TYPE, data: { text, from: chat.name } });
    const bubble = renderBubble(chat.name, text, null, true);
    bubble.classList.add('pending');
    bubble.dataset.testid = 'pending-message';
    bubble.dataset.text = text;
    bubble.querySelector('.time').textContent = 'sending…';
    ui.messageList.append(bubble); // pending ones stay below the confirmed ones
    updateEmpty();
    scrollToEnd(true);
    if (sent) {
      chat.pending.set(id, bubble);
    } else {
      markFailed(bubble, 'Not sent: not connected.');
    }
  }

  function failPending(reason) {
    for (const bubble of chat.pending.values()) markFailed(bubble, reason);
    chat.pending.clear();
  }

  function markFailed(bubble, reason) {
    bubble.classList.remove('pending');
    bubble.classList.add('failed');
    bubble.dataset.testid = 'failed-message';
    const time = bubble.querySelector('.time');
    time.textContent = reason;
    const retry = document.createElement('button');
    retry.type = 'button';
    retry.className = 'retry';
    retry.textContent = 'Send again';
    retry.addEventListener('click', () => {
      if (!chat.subscribed) return;
      bubble.remove();
      publish(bubble.dataset.text);
    });
    time.after(retry);
  }

  // ---- rendering (textContent only) ---------------------------------------------------------------

  function setStatus(state) {
    ui.status.dataset.state = state;
    ui.statusText.textContent = {
      connecting: 'Connecting…',
      connected: 'Connected',
      reconnecting: 'Reconnecting…',
      offline: 'Offline',
      refused: 'Not allowed',
    }[state];

    const down = state === 'reconnecting' || state === 'offline';
    const refused = state === 'refused';
    ui.banner.hidden = !down && !refused;
    ui.banner.classList.toggle('offline', state === 'offline' || refused);
    ui.banner.dataset.state = state;
    ui.retryButton.hidden = refused;
    clearInterval(chat.countdownTimer);
    if (!down) return;
    const render = () => {
      const seconds = Math.max(0, Math.ceil((chat.retryAt - Date.now()) / 1000));
      const next = chat.retryTimer && seconds > 0 ? `retrying in ${seconds}s` : 'reconnecting…';
      const why = state === 'offline'
        ? (navigator.onLine === false ? 'You are offline' : 'Server unreachable')
        : 'Connection lost';
      ui.bannerText.textContent = `${why} — ${next}`;
    };
    render();
    chat.countdownTimer = setInterval(render, 1000);
  }

  function hue(name) {
    let hash = 0;
    for (const ch of name) hash = (hash * 31 + ch.codePointAt(0)) | 0;
    return Math.abs(hash) % 360;
  }

  function avatar(name) {
    const span = document.createElement('span');
    span.className = 'avatar';
    span.setAttribute('aria-hidden', 'true');
    span.textContent = [...name][0] ?? '?';
    span.style.setProperty('--hue', String(hue(name)));
    return span;
  }

  function renderMembers(members) {
    const items = members.map((name) => {
      const li = document.createElement('li');
      li.className = name === chat.name ? 'member me' : 'member';
      li.dataset.testid = 'member';
      const label = document.createElement('span');
      label.className = 'name';
      label.textContent = name;
      label.title = name;
      li.append(avatar(name), label);
      return li;
    });
    ui.memberList.replaceChildren(...items);
    ui.memberCount.textContent = String(members.length);
  }

  function formatTime(iso) {
    const date = iso ? new Date(iso) : new Date();
    if (Number.isNaN(date.getTime())) return ['', ''];
    const sameDay = date.toDateString() === new Date().toDateString();
    const short = sameDay
      ? date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
      : date.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
    return [short, date.toLocaleString()];
  }

  function renderBubble(from, text, time, mine) {
    const li = document.createElement('li');
    li.className = mine ? 'msg mine' : 'msg';
    const body = document.createElement('div');
    body.className = 'body';
    const meta = document.createElement('div');
    meta.className = 'meta';
    const who = document.createElement('span');
    who.className = 'from';
    who.textContent = from;
    const when = document.createElement('time');
    when.className = 'time';
    if (time) {
      const [short, full] = formatTime(time);
      when.textContent = short;
      when.title = full;
      when.dateTime = time;
    }
    meta.append(who, when);
    const p = document.createElement('p');
    p.className = 'text';
    p.dataset.testid = 'message-text';
    p.textContent = text;
    body.append(meta, p);
    li.append(avatar(from), body);
    return li;
  }

  function addMessage(from, text, time, seq) {
    const li = renderBubble(from, text, time, from === chat.name);
    li.dataset.testid = 'message';
    li.dataset.seq = String(seq);
    li.dataset.from = from;
    const previous = lastConfirmed();
    if (previous?.dataset.from === from) li.classList.add('cont');
    insert(li);
  }

  function addNotice(text, error = false) {
    const li = document.createElement('li');
    li.className = error ? 'notice error' : 'notice';
    li.dataset.testid = 'notice';
    li.textContent = text;
    insert(li);
    return li;
  }

  /** Adds a confirmed line above any still-pending bubbles, keeping the list bounded. */
  function insert(li) {
    const stick = isNearEnd();
    const firstPending = ui.messageList.querySelector('.msg.pending, .msg.failed');
    ui.messageList.insertBefore(li, firstPending);
    while (ui.messageList.children.length > MAX_SHOWN) ui.messageList.firstElementChild.remove();
    updateEmpty();
    scrollToEnd(stick);
  }

  function clearMessages() {
    ui.messageList.replaceChildren();
    chat.seen.clear();
    chat.pending.clear();
    chat.confirmed.clear();
    updateEmpty();
  }

  function updateEmpty() {
    ui.empty.hidden = ui.messageList.querySelector('.msg') !== null;
  }

  function isNearEnd() {
    const s = ui.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
  }

  function scrollToEnd(force) {
    if (force) ui.scroller.scrollTop = ui.scroller.scrollHeight;
  }

  start();
})();
