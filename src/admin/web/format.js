/** @module Display formats shared by the views: fingerprints as AB:CD:…, pairing codes in groups, times, states, error texts. */

/** 64 hex characters → "AB:CD:…" (the form `openssl x509 -fingerprint -sha256` prints). */
export function colonFingerprint(hex) {
  if (!hex) return '';
  return hex.toUpperCase().match(/.{1,2}/g).join(':');
}

/** The first `bytes` bytes of a fingerprint in AB:CD form, for lists. */
export function shortFingerprint(hex, bytes = 6) {
  if (!hex) return '—';
  return `${colonFingerprint(hex.slice(0, bytes * 2))}:…`;
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

export function formatClock(iso) {
  return iso ? timeOnly.format(new Date(iso)) : '';
}

/** "in 23 h", "in 5 min", "2 min ago": for expiry and last-seen columns. */
export function relative(iso, now = Date.now()) {
  if (!iso) return '';
  const diff = new Date(iso).getTime() - now;
  const abs = Math.abs(diff);
  const unit = abs >= 86_400_000 ? [86_400_000, 'd'] : abs >= 3_600_000 ? [3_600_000, 'h'] : abs >= 60_000 ? [60_000, 'min'] : [1000, 's'];
  const n = Math.floor(abs / unit[0]);
  return diff >= 0 ? `in ${n} ${unit[1]}` : `${n} ${unit[1]} ago`;
}

/** A pending request past its expiry reads as expired even before the server rewrites it. */
export function effectiveState(request, now = Date.now()) {
  return request.state === 'pending' && new Date(request.expiresAt).getTime() <= now ? 'expired' : request.state;
}

const MESSAGES = {
  login_failed: 'Wrong user name or password.',
  session_expired: 'Your session has ended (logged out or idle too long). Log in again.',
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
  return MESSAGES[error?.code] ?? error?.message ?? 'Something went wrong.';
}
