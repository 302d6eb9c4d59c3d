// Calls to this server's /ui/api/ routes. Every request carries the session
// cookie; the API token stays on the server and no script here ever sees it.

/** A failed request, with the HTTP status (0: the server did not answer). */
export class RequestError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Where the login page sends the user back to: this very page. */
export function loginUrl() {
  const here = `${window.location.pathname}${window.location.search}`;
  return `/login?expired=1&next=${encodeURIComponent(here)}`;
}

/** Calls one of this server's JSON routes; throws a RequestError with a readable message. */
export async function request(method, path, body) {
  const init = {
    method,
    credentials: 'same-origin',
    cache: 'no-store',
    headers: { Accept: 'application/json' },
  };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (e) {
    throw new RequestError(0, 'cannot reach the jobctl web server (is it running?)');
  }
  if (resp.status === 401) {
    // The session ended (sign-out elsewhere, a restart, a revoked token).
    window.location.assign(loginUrl());
    throw new RequestError(401, 'signed out');
  }
  let data = null;
  try {
    data = await resp.json();
  } catch (e) {
    data = null;
  }
  if (!resp.ok) {
    const message = data && typeof data.error === 'string' ? data.error : `HTTP ${resp.status}`;
    throw new RequestError(resp.status, message);
  }
  return data;
}

/** The page's API path of a job. */
export const jobPath = (id) => `/ui/api/jobs/${encodeURIComponent(id)}`;

/**
 * Whether a log chunk reached what can be read now. A running job's last few
 * bytes may be an unfinished UTF-8 character, which the API holds back: then
 * nothing new comes (`logs` is empty) although `next_offset < size`, and
 * asking again at once would only spin until the job writes more.
 */
export function caughtUp(chunk) {
  return chunk.next_offset >= chunk.size || chunk.logs === '';
}

/** An error message as a sentence: no doubled full stop, no "?." */
export function sentence(text) {
  const t = String(text).trim();
  return /[.?!…]$/.test(t) ? t : `${t}.`;
}
