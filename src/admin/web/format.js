/** @module Display formats shared by the views: fingerprints as AB:CD:…, pairing codes in groups, times, states, error texts. */

/** 64 hex characters → "AB:CD:…" (the form `openssl x509 -fingerprint -sha256` prints). */
export function colonFingerprint(hex) {
  if (!hex) return '';
  return hex.toUpperCase().match(/.{1,2}/g).join(':');
}

/**
 * The first and last 4 bytes of a fingerprint in AB:CD form, for lists: the form `cas` prints, so that an operator
 * comparing the two sees the same text. Both ends: a key whose fingerprint begins with 6 chosen bytes takes 2^48 tries
 * to make, one that matches 4 at each end 2^64.
 */
export function shortFingerprint(hex) {
  if (!hex) return '—';
  if (hex.length !== 64) return colonFingerprint(hex);
  return `${colonFingerprint(hex.slice(0, 8))}…${colonFingerprint(hex.slice(-8))}`;
}

/** "123-456-789-012" → ["123","456","789","012"]: the groups the terminal screen shows. */
export function codeGroups(code) {
  const digits = String(code ?? '').replace(/\D/g, '');
  return digits.match(/.{1,3}/g) ?? [];
}

/** What the operator typed, reduced to the digits the server compares (it ignores spaces and dashes too). */
export function normaliseCode(text) {
  return String(text).replace(/[\s-]/g, '');
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });

export function formatTime(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '—' : dateTime.format(date);
}

const dayAndTime = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' });

/** "1:51 AM" today; "Dec 7, 1:51 AM" on another day, so that a window of a day or more never reads as ending now. */
export function formatClock(iso, now = new Date()) {
  if (!iso) return '';
  const date = new Date(iso);
  return date.toDateString() === now.toDateString() ? timeOnly.format(date) : dayAndTime.format(date);
}

/** "in 23 h", "in 1 h 55 min", "in 5 min", "2 min ago": for expiry and last-seen columns. */
export function relative(iso, now = Date.now()) {
  if (!iso) return '';
  const diff = new Date(iso).getTime() - now;
  const minutes = Math.round(Math.abs(diff) / 60_000);
  let text;
  if (minutes === 0) text = `${Math.round(Math.abs(diff) / 1000)} s`;
  else if (minutes < 60) text = `${minutes} min`;
  else if (minutes < 600) text = minutes % 60 ? `${Math.floor(minutes / 60)} h ${minutes % 60} min` : `${minutes / 60} h`;
  else if (minutes < 2 * 1440) text = `${Math.round(minutes / 60)} h`;
  else text = `${Math.round(minutes / 1440)} d`;
  return diff >= 0 ? `in ${text}` : `${text} ago`;
}

/**
 * Text a terminal chose, with every invisible formatting character shown as its code point: a right-to-left
 * override (U+202E) or an isolate would otherwise make "…evil" read "live…" to the operator deciding on it.
 */
export function visible(text) {
  return String(text).replace(/[\p{Cc}\p{Cf}\u2028\u2029]/gu, (c) => `⟨U+${/** @type {number} */ (c.codePointAt(0)).toString(16).toUpperCase().padStart(4, '0')}⟩`);
}

/** A pending request past its expiry reads as expired even before the server rewrites it. */
export function effectiveState(request, now = Date.now()) {
  return request.state === 'pending' && new Date(request.expiresAt).getTime() <= now ? 'expired' : request.state;
}

const MESSAGES = {
  login_failed: 'Wrong user name or password.',
  // Every way a session ends (the server does not say which): an administrator's users role, disable, passwd or
  // reset-2fa end it too, and "idle too long" alone sent a viewer made an operator looking for a timeout.
  session_expired: 'Your session has ended: logged out (here or in another tab), idle too long, or your account was changed on the server (its role, password or 2FA). Log in again.',
  not_logged_in: 'You are not logged in. Log in again.',
  requires_2fa: 'Only operators with two-factor authentication may do this. Set up 2FA first.',
  code_mismatch: 'The code does not match the code of this request. Do not approve: ask the contact to read the code again, or reject.',
  invalid_state: 'This is no longer possible: the item changed in the meantime.',
  already_exists: 'A terminal with this serial already exists.',
  not_found: 'Not found: it may have been removed.',
  rate_limited: 'Too many attempts. Wait a moment and try again.',
  disconnected: 'The connection to the server was lost. Reconnecting…',
  internal_error: 'The server failed to process the request. See the server log.',
};

/** A human sentence for an error reply; the server's own message for field errors, which name the field. */
export function errorText(error) {
  if (error?.code === 'invalid_field' && error.message) return `Invalid input: ${error.message}`;
  // The server says which terminal: the same serial, or one that differs only in case.
  if (error?.code === 'already_exists' && error.message) return `${error.message[0].toUpperCase()}${error.message.slice(1)}.`;
  if (error?.code === 'rate_limited' && error.retryAfter) return `Too many attempts. Try again in ${waitText(error.retryAfter)}.`;
  if (error?.code === 'code_mismatch' && error.attemptsLeft === 0) {
    return 'The code does not match, and that was the last try: the request is rejected. This terminal key cannot ask again until the rejection expires (24 h by default) or after a factory reset of the terminal (a new key).';
  }
  if (error?.code === 'code_mismatch' && error.attemptsLeft) {
    const left = error.attemptsLeft === 1 ? 'One more wrong code rejects' : `${error.attemptsLeft} more wrong codes reject`;
    return `${MESSAGES.code_mismatch} ${left} this request.`;
  }
  return MESSAGES[error?.code] ?? error?.message ?? 'Something went wrong.';
}

function waitText(seconds) {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minute${minutes === 1 ? '' : 's'}`;
}
