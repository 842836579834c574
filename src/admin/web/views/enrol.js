/**
 * @module Two-factor enrolment for an operator without it: the enrolment code from the administrator, then scan the QR
 * code (or type the key), confirm with a code.
 */
import { field, fill, formError, h } from '../dom.js';
import { errorText } from '../format.js';
/** @typedef {import('../channel.js').Failure} Failure */

/** The server's SVG as an <img> source: the page's CSP allows data: images, never inline markup. */
function svgDataUrl(svg) {
  const bytes = new TextEncoder().encode(svg);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return `data:image/svg+xml;base64,${btoa(binary)}`;
}

export function enrolView(ctx) {
  const { store } = ctx;
  const body = h('div', { id: 'enrol-body' });
  const error = formError('enrol-error');

  async function start(event, enrolmentCode, button) {
    event.preventDefault();
    error.show(null);
    const value = enrolmentCode.value.replace(/[\s-]/g, '');
    if (!/^\d{12}$/.test(value)) {
      error.show('Type the 12-digit enrolment code your administrator gave you, e.g. 1234-5678-9012.');
      enrolmentCode.focus();
      return;
    }
    button.disabled = true;
    try {
      showSecret(await ctx.call('totp.enroll', { code: value }));
    } catch (caught) {
      const failure = /** @type {Failure} */ (caught);
      button.disabled = false;
      // The server's message says how many tries are left, or that the administrator has to issue a new code.
      const told = failure.code === 'code_mismatch' || failure.code === 'invalid_state';
      error.show(told ? `${failure.message.charAt(0).toUpperCase()}${failure.message.slice(1)}.` : errorText(failure));
      enrolmentCode.focus();
    }
  }

  function showSecret({ totpSecret, otpauthUri, qrSvg }) {
    const code = h('input', { id: 'enrol-code', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: '7', class: 'short' });
    const confirmButton = h('button', { type: 'submit', class: 'primary', id: 'enrol-confirm' }, 'Confirm');
    async function confirm(event) {
      event.preventDefault();
      error.show(null);
      const value = code.value.replace(/\s/g, '');
      if (!/^\d{6}$/.test(value)) {
        error.show('Type the 6-digit code your app shows.');
        code.focus();
        return;
      }
      confirmButton.disabled = true;
      try {
        await ctx.call('totp.confirm', { totp: value });
        ctx.setHas2fa();
        ctx.toast('Two-factor authentication is set up: you can now approve pairing requests.', 'ok');
        ctx.navigate('#/pairing');
      } catch (caught) {
        const failure = /** @type {Failure} */ (caught);
        confirmButton.disabled = false;
        error.show(failure.code === 'totp_required' ? 'That code is wrong or expired: check the phone\'s clock and type the current code.' : errorText(failure));
        code.value = '';
        code.focus();
      }
    }
    fill(body,
      h('ol', { class: 'steps' },
        h('li', {}, 'Scan this QR code with your authenticator app (FreeOTP, Aegis, Google Authenticator, …).',
          h('div', { class: 'qr' }, h('img', { id: 'enrol-qr', src: svgDataUrl(qrSvg), alt: 'QR code of your 2FA key', width: '220', height: '220' }))),
        h('li', {}, 'Or type this key into the app by hand:',
          h('p', { class: 'mono secret', id: 'totp-secret' }, totpSecret.match(/.{1,4}/g).join(' ')),
          h('details', {}, h('summary', {}, 'Show the otpauth link'), h('p', { class: 'mono uri', id: 'totp-uri' }, otpauthUri))),
        h('li', {}, 'Type the code the app now shows, to prove it works:',
          h('form', { id: 'enrol-form', class: 'inline-form', onsubmit: confirm, novalidate: true },
            field('Code from the app', code), confirmButton))),
      error.el);
    code.focus();
  }

  function render() {
    if (store.session?.has2fa) {
      fill(body, h('p', { class: 'notice ok', id: 'enrol-done' }, 'Two-factor authentication is set up for your account.'));
      return;
    }
    const enrolmentCode = h('input', { id: 'enrolment-code', inputmode: 'numeric', autocomplete: 'off', maxlength: '16', class: 'short mono' });
    const button = h('button', { type: 'submit', class: 'primary', id: 'enrol-start' }, 'Set up 2FA');
    fill(body,
      h('p', {}, 'Approving a pairing request needs two-factor authentication. Until you set it up you can look at everything, but not approve.'),
      h('form', { id: 'enrolment-form', class: 'inline-form', onsubmit: (event) => start(event, enrolmentCode, button), novalidate: true },
        field('Enrolment code', enrolmentCode, 'The 12 digits your administrator gave you with your password. Spent or expired: ask them for a new one.'),
        button),
      error.el);
  }

  render();
  const el = h('section', { class: 'view narrow' },
    h('h1', { tabindex: '-1' }, 'Two-factor authentication'),
    body,
    h('p', {}, h('a', { href: '#/terminals' }, store.session?.has2fa ? 'Back to terminals' : 'Skip for now: look around')));
  return { el, title: 'Two-factor authentication' };
}
