// Switchboard chat: a page of the hub's own JS client (/v1/client.js).
//
// hub.join('chat.<room>') is one WebSocket with presence: the members, join and leave notices, the room's events and
// sending. The first join asks for the last HISTORY events; every reconnection resumes after the last cursor, so
// nothing is missed or shown twice (the client does this). On a protected hub the page is opened with
// ?token=<subscriber token>; the name is then the token's presence name (or its subject), which the server enforces
// anyway. A refusal (no token, a token for other rooms, an expired one) ends the subscription in the client, and the
// page says why instead of reconnecting. A `reset` (the log no longer has our position) rejoins with the history.
// User text only ever goes into the page through textContent.
import { Switchboard } from '../v1/client.js';

const MESSAGE_TYPE = 'chat.message';
const HISTORY = 50;
const MAX_SHOWN = 500; // messages kept in the page
const ROOM_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/; // what the server refuses in a name
const OFFLINE_AFTER_FAILURES = 5; // failed reconnects before the status says "offline"

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
  name: '',
  roomName: '',
  room: null, // the client's Room while joined
  token: null, // the subscriber token from ?token=, if any
  seen: new Set(), // seqs shown, so nothing is shown twice
  confirmed: new Map(), // seq -> pending bubble whose send was acked but whose event has not arrived yet
  countdownTimer: 0,
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

/** The name a token gives, read only to show it: the server verifies the token and decides the name. */
function tokenName(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(part.padEnd(Math.ceil(part.length / 4) * 4, '=')), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    const name = claims?.switchboard?.presence ?? claims?.sub;
    return typeof name === 'string' && name ? name : null;
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
    name = tokenName(token) ?? '';
    ui.nameInput.readOnly = true;
    ui.nameInput.title = 'Your name comes from your access token.';
    if (!name) {
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
  chat.name = name;
  chat.roomName = room;
  writeUrl(name, room);
  ui.roomName.textContent = `#${room}`;
  ui.me.textContent = `as ${name}`;
  ui.messageInput.placeholder = `Message #${room}`;
  document.title = `#${room} · Switchboard chat`;
  ui.joinView.hidden = true;
  ui.chatView.hidden = false;
  enter();
  ui.messageInput.focus();
}

/** Joins the room with its recent history (again after a reset), through the client. */
function enter() {
  clearMessages();
  renderMembers([]);
  setStatus('connecting');
  const hubUrl = new URL('..', location.href).href;
  // With a token the server takes the name from it; without one, the name is ours to give.
  const hub = new Switchboard(hubUrl, chat.token ? { token: chat.token, cursorStore: null } : { name: chat.name, cursorStore: null });
  const room = hub.join(`chat.${chat.roomName}`, { history: HISTORY });
  chat.room = room;
  const current = () => chat.room === room; // events of a room already left are ignored
  room.on('event', (event) => current() && onEvent(event));
  room.on('members', (members) => current() && renderMembers(members));
  room.on('join', (who) => current() && onJoined(who));
  room.on('leave', (who) => current() && onLeft(who));
  room.on('state', (state) => current() && onState(state));
  room.on('retry', () => current() && onState(room.subscription.state));
  room.on('reset', (reset) => current() && onReset(reset));
  room.on('error', (error) => current() && console.info(`switchboard chat: ${error.message}`));
  room.subscription.closed.then((error) => current() && error && refuse(refusalText(error)));
}

function leaveRoom() {
  const room = chat.room;
  chat.room = null;
  room?.leave();
  clearInterval(chat.countdownTimer);
  updateComposer();
}

ui.leaveButton.addEventListener('click', () => {
  leaveRoom();
  writeUrl(chat.name, null);
  showJoin();
});

// ---- the connection -----------------------------------------------------------------------------

function onState(state) {
  if (state === 'open') {
    ui.members.classList.remove('stale');
    setStatus('connected');
  } else if (state === 'reconnecting') {
    ui.members.classList.add('stale');
    const offline = navigator.onLine === false || chat.room.subscription.failures >= OFFLINE_AFTER_FAILURES;
    setStatus(offline ? 'offline' : 'reconnecting');
  }
  updateComposer();
}

// "Retry now", the network coming back, the tab shown again: skip the client's back-off wait.
ui.retryButton.addEventListener('click', () => chat.room?.reconnect());
window.addEventListener('online', () => chat.room?.reconnect());
window.addEventListener('offline', () => {
  if (chat.room && !chat.room.connected) setStatus('offline');
});
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') chat.room?.reconnect();
});

function onReset(reset) {
  // Our position is gone from the log (the server restarted without its store, or retention removed it): start over
  // from the room's recent history.
  console.info(`switchboard chat: reset (${reset.reason}); reloading history`);
  leaveRoom();
  enter();
  addNotice('The room’s history was reset; showing it again from the server.');
}

function refusalText(error) {
  const room = `#${chat.roomName}`;
  if (error.code === 'token-expired' || error.code === 'token_expired') return 'Your access token has expired; ask for a new link.';
  if (error.status === 401) {
    return `This hub needs an access token to read ${room}; open the link you were given (with ?token=…). `
      + `An operator makes one with: switchboard token --secret … --sub NAME --subscribe chat.${chat.roomName} --publish chat.${chat.roomName}. Server: ${error.message}`;
  }
  if (error.status === 403) return `Your access token does not allow ${room}. Server: ${error.message}`;
  return `Cannot join ${room}: ${error.message}`;
}

/** Stops for good: shows why the room cannot be read. The client neither reconnects nor resubscribes. */
function refuse(text) {
  setStatus('refused');
  ui.bannerText.textContent = text;
  ui.members.classList.add('stale');
  ui.empty.hidden = true; // not "Say hello!" in a room we may not enter
  updateComposer();
}

// ---- what the room says -------------------------------------------------------------------------

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

function onLeft(who) {
  if (typeof who === 'string' && who !== chat.name) addNotice(`${who} left`).dataset.left = who;
}

function onJoined(who) {
  if (typeof who !== 'string' || who === chat.name) return;
  // Someone back right after leaving (a reload, a network blip) is no news: drop the "left" line instead.
  const previous = lastConfirmed();
  if (previous?.dataset.left === who) previous.remove();
  else addNotice(`${who} joined`);
}

/** The newest line above any pending bubbles. */
function lastConfirmed() {
  const firstPending = ui.messageList.querySelector('.msg.pending, .msg.failed');
  return firstPending ? firstPending.previousElementSibling : ui.messageList.lastElementChild;
}

// ---- sending ------------------------------------------------------------------------------------

function updateComposer() {
  ui.sendButton.disabled = !chat.room?.connected;
}

ui.composer.addEventListener('submit', (e) => {
  e.preventDefault();
  const text = ui.messageInput.value.trim();
  if (!text || !chat.room?.connected) return;
  publish(text);
  ui.messageInput.value = '';
  ui.messageInput.focus();
});

function publish(text) {
  const room = chat.room;
  const bubble = renderBubble(chat.name, text, null, true);
  bubble.classList.add('pending');
  bubble.dataset.testid = 'pending-message';
  bubble.dataset.text = text;
  bubble.querySelector('.time').textContent = 'sending…';
  ui.messageList.append(bubble); // pending ones stay below the confirmed ones
  updateEmpty();
  scrollToEnd(true);
  if (!room?.connected) {
    markFailed(bubble, 'Not sent: not connected.');
    return;
  }
  room.send({ text, from: chat.name }, { type: MESSAGE_TYPE }).then(
    ({ seq }) => {
      if (chat.seen.has(seq)) bubble.remove(); // its event already arrived
      else chat.confirmed.set(seq, bubble);
    },
    (error) => markFailed(bubble, error.code === 'connection-lost' ? 'Not confirmed: the connection dropped.' : `Not sent: ${error.message}`),
  );
}

function markFailed(bubble, reason) {
  if (!bubble.isConnected) return;
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
    if (!chat.room?.connected) return;
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
    const retryAt = chat.room?.subscription.retryAt;
    const seconds = retryAt ? Math.max(0, Math.ceil((retryAt - Date.now()) / 1000)) : 0;
    const next = seconds > 0 ? `retrying in ${seconds}s` : 'reconnecting…';
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
