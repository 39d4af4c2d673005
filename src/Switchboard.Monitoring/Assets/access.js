// What the monitoring pages show when the hub refuses them: on a protected hub (API keys or a token secret configured)
// the snapshot stream and the playground's sessions need a credential with the admin scope, given as ?token=. The
// client ends a subscription refused with 401 or 403 for good, so the page says why instead of "reconnecting…".

/** The page's credential from ?token=, or undefined. */
export function pageToken() {
  return new URLSearchParams(location.search).get('token') || undefined;
}

/** Whether an error from the client is the hub refusing the page's credential (or its lack of one). */
export function isRefusal(error) {
  return !!error && (error.status === 401 || error.status === 403);
}

/** Replaces the page's content notice with why the hub refused it and how to get in. */
export function showRefusal(error, page) {
  const notice = document.getElementById('notice');
  const token = pageToken();
  const lines = [];
  if (error.status === 403) {
    lines.push([`The token in the address does not allow the ${page}: it needs the admin scope.`]);
  } else if (token) {
    lines.push([`The token in the address was refused (${error.code}): it is unknown, revoked or expired.`]);
  } else {
    lines.push(['This hub is protected: open this page with ', code('?token=<key>'), ', an API key with the admin scope.']);
  }
  lines.push(['Create one with ', code('switchboard keys create --scopes admin --name dashboard --data <database>'),
    ' (or POST /v1/keys), then open ', code(`${location.pathname}?token=sk_…`), '.']);
  notice.replaceChildren(...lines.map(parts => {
    const p = document.createElement('p');
    p.append(...parts);
    return p;
  }));
  notice.hidden = false;
  const status = document.getElementById('status');
  status.textContent = error.status === 403 ? 'not allowed' : 'token needed';
  status.className = 'status down';
  status.dataset.state = 'refused';
}

function code(text) {
  const c = document.createElement('code');
  c.textContent = text;
  return c;
}
