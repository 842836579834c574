/** @module The login form: user, password and TOTP code, with one clear message for each way a login fails. */
import { field, formError, h } from '../dom.js';
import { errorText } from '../format.js';
/** @typedef {import('../channel.js').Failure} Failure */

export function loginView(ctx, message) {
  const user = h('input', { id: 'login-user', name: 'username', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', required: true });
  const password = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const totp = h('input', { id: 'login-totp', name: 'totp', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: '7', class: 'short' });
  const error = formError('login-error');
  const submit = h('button', { type: 'submit', class: 'primary', id: 'login-submit' }, 'Log in');

  async function onSubmit(event) {
    event.preventDefault();
    error.show(null);
    if (!user.value.trim() || !password.value) {
      error.show('Enter your user name and password.');
      (user.value.trim() ? password : user).focus();
      return;
    }
    const code = totp.value.replace(/\s/g, '');
    // A code that cannot pass is told here, without spending one of the account's login attempts.
    if (code && !/^\d{6}$/.test(code)) {
      error.show('A TOTP code is 6 digits: type the one your authenticator app shows now.');
      totp.focus();
      return;
    }
    submit.disabled = true;
    try {
      const result = await ctx.channel.request('login', { user: user.value.trim(), password: password.value, ...(code ? { totp: code } : {}) });
      await ctx.loggedIn(result);
    } catch (caught) {
      const failure = /** @type {Failure} */ (caught);
      submit.disabled = false;
      if (failure.code === 'login_failed') {
        error.show('Wrong user name or password.');
        password.value = '';
        password.focus();
      } else if (failure.code === 'totp_required' && !code) {
        error.show('This account uses two-factor authentication: enter the 6-digit code from your authenticator app.');
        totp.focus();
      } else if (failure.code === 'totp_required') {
        error.show('The TOTP code is wrong, expired or was already used. Wait for the next code and try again.');
        totp.value = '';
        totp.focus();
      } else if (failure.code === 'disconnected') {
        error.show('Cannot reach the server. Check the connection and try again.');
      } else {
        error.show(errorText(failure));
      }
    }
  }

  const el = h('section', { class: 'login-wrap' },
    h('form', { class: 'card login', id: 'login-form', onsubmit: onSubmit, 'aria-labelledby': 'login-title', novalidate: true },
      h('h1', { id: 'login-title', tabindex: '-1' }, 'Operator login'),
      h('p', { class: 'muted' }, 'Terminal pairing server — admin'),
      message ? h('p', { class: 'notice', id: 'login-notice', role: 'status' }, message) : null,
      field('User', user),
      field('Password', password),
      field('TOTP code', totp, 'The 6-digit code from your authenticator app. Leave it empty if your account has no 2FA yet.'),
      error.el,
      submit));
  return { el, title: 'Log in' };
}
