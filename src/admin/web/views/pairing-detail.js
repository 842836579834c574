/** @module One pairing request: the code in large grouped digits, who to call, and APPROVE (with the code read out) or REJECT. */
import { fill, fingerprintText, formError, h, pill } from '../dom.js';
import { codeGroups, effectiveState, errorText, formatTime, normaliseCode, visible } from '../format.js';
/** @typedef {import('../channel.js').Failure} Failure */

/**
 * What the terminal says about itself, apart from what the server knows: its keys and values are the terminal's
 * choice, so they must not pass for the server's facts (a "Contact" row with another number, a "Note" telling the
 * operator to approve) and their invisible characters are shown.
 */
function terminalInfo(info) {
  const entries = info && typeof info === 'object' ? Object.entries(info) : [];
  return h('section', { class: 'card terminal-info', id: 'terminal-info', 'aria-labelledby': 'terminal-info-title' },
    h('h3', { id: 'terminal-info-title' }, 'Reported by the terminal — not verified'),
    h('p', { class: 'hint' }, 'Any terminal can send these lines. Never follow instructions or call numbers found here.'),
    entries.length === 0
      ? h('p', { class: 'muted' }, 'Nothing.')
      : h('dl', { class: 'facts' }, entries.flatMap(([key, value]) => [
        h('dt', {}, visible(key)),
        h('dd', {}, visible(typeof value === 'string' ? value : JSON.stringify(value))),
      ])));
}

function codeBlock(code) {
  if (!code) return h('p', { class: 'notice' }, 'No code yet: the terminal has not finished its side of the exchange.');
  const groups = codeGroups(code);
  return h('div', { class: 'code-box' },
    h('p', { class: 'code-label', id: 'code-label' }, 'Pairing code'),
    h('p', { class: 'code', id: 'pairing-code', 'aria-labelledby': 'code-label' },
      groups.flatMap((group, i) => [i ? h('span', { class: 'code-sep', 'aria-hidden': 'true' }, '-') : null, h('span', { class: 'code-group' }, group)])));
}

export function pairingDetailView(ctx, requestId) {
  const { store } = ctx;
  const head = h('div', { id: 'pairing-head' });
  const actions = h('div', { id: 'pairing-actions' });
  const facts = h('div', {});

  const codeInput = h('input', { id: 'approve-code', name: 'code', inputmode: 'numeric', autocomplete: 'off', spellcheck: 'false', maxlength: '20', class: 'code-input', placeholder: '123-456-789-012' });
  const error = formError('approve-error');
  const approveButton = h('button', { type: 'submit', class: 'primary', id: 'approve' }, 'APPROVE');
  const rejectButton = h('button', { type: 'button', class: 'danger', id: 'reject', onclick: reject }, 'REJECT…');
  const readOnly = h('p', { class: 'notice', id: 'decide-read-only' }, 'Your account is a viewer: an operator approves or rejects this request.');
  const no2fa = h('p', { class: 'notice', id: 'approve-needs-2fa' }, 'Only operators with two-factor authentication may approve. ', h('a', { href: '#/2fa' }, 'Set up 2FA'), ' — you can still reject.');
  const form = h('form', { class: 'card approve', id: 'approve-form', onsubmit: approve, novalidate: true },
    h('h2', {}, 'Decide'),
    h('div', { class: 'field' },
      h('label', { for: 'approve-code' }, 'Code read out by the location contact'),
      codeInput,
      h('p', { class: 'hint', id: 'approve-code-hint' }, 'Type the 12 digits the contact reads from the terminal screen. Approve only if they match the code above.')),
    error.el, no2fa,
    h('div', { class: 'actions' }, rejectButton, approveButton));
  codeInput.setAttribute('aria-describedby', 'approve-code-hint');

  /**
   * The request's terminal as the server gave it to this view (terminals.get) or pushed it since: its contact is the
   * number the operator calls to hear the code, so it is never shown from a copy older than this view.
   */
  let terminal = null;
  let terminalError = null;
  /** The serial asked for; null until the request is known, or again after a reconnection. */
  let terminalAsked = null;

  function fetchTerminal(serial) {
    terminalAsked = serial;
    terminalError = null;
    ctx.call('terminals.get', { serial }).then((t) => store.putTerminal(t), (failure) => {
      if (terminalAsked !== serial || terminal) return;
      terminalError = errorText(failure);
      render();
    });
  }

  async function approve(event) {
    event.preventDefault();
    error.show(null);
    const code = normaliseCode(codeInput.value);
    if (!/^\d{12}$/.test(code)) {
      error.show('Type all 12 digits the location contact reads out.');
      codeInput.focus();
      return;
    }
    approveButton.disabled = true;
    try {
      store.putRequest(await ctx.call('pairing.approve', { requestId, code }));
      ctx.toast('Approved: the terminal is paired on its next contact.', 'ok');
      focusStatus();
    } catch (caught) {
      const failure = /** @type {Failure} */ (caught);
      error.show(errorText(failure));
      if (failure.code === 'code_mismatch' && failure.attemptsLeft === 0) {
        // The request is rejected now and its form goes away with this message: say it where it stays.
        ctx.toast(errorText(failure), 'danger');
      } else if (failure.code === 'code_mismatch') {
        codeInput.value = '';
        codeInput.focus();
      }
      ctx.call('pairing.get', { requestId }).then((r) => {
        store.putRequest(r);
        if (effectiveState(r) !== 'pending') focusStatus();
      }, () => {});
    } finally {
      approveButton.disabled = !store.session?.has2fa;
    }
  }

  async function reject() {
    const request = store.requests.get(requestId);
    const yes = await ctx.confirm({
      title: `Reject the pairing request of ${request?.serial ?? 'this terminal'}?`,
      text: 'The terminal is refused and must start pairing again. Reject when the codes differ or you did not expect this terminal.',
      confirmLabel: 'Reject',
      danger: true,
    });
    if (!yes) return;
    try {
      store.putRequest(await ctx.call('pairing.reject', { requestId }));
      ctx.toast('Pairing request rejected.', 'ok');
      focusStatus();
    } catch (failure) {
      error.show(errorText(failure));
    }
  }

  /** After a decision its form is gone: keyboard and screen-reader users continue from the new state. */
  function focusStatus() {
    head.querySelector('#pairing-status')?.focus();
  }

  function render() {
    const r = store.requests.get(requestId);
    if (!r) {
      fill(head, h('p', { class: 'empty' }, 'Loading…'));
      return;
    }
    if (terminalAsked !== r.serial) fetchTerminal(r.serial);
    const state = effectiveState(r);
    // A viewer is shown what the decision rests on, not told to make it.
    const mayDecide = ctx.mayChange();
    const statusText = {
      pending: `Waiting for an operator's decision until ${formatTime(r.expiresAt)}.`,
      approved: `Approved by ${r.decidedBy ?? '?'} on ${formatTime(r.decidedAt)}.`,
      rejected: r.decidedBy === 'system'
        ? `Rejected automatically on ${formatTime(r.decidedAt)}, after too many wrong codes: this terminal key cannot ask again until the rejection expires, or after a factory reset.`
        : `Rejected by ${r.decidedBy ?? '?'} on ${formatTime(r.decidedAt)}.`,
      expired: `Expired on ${formatTime(r.expiresAt)}: the terminal must ask again.`,
    }[state];
    fill(head,
      h('p', { class: `status status-${state}`, id: 'pairing-status', tabindex: '-1' }, pill(state), ' ', statusText),
      r.conflictsWithPaired
        ? h('div', { class: 'warning', role: 'alert', id: 'pairing-conflict' },
          h('p', {}, 'This serial is already paired with ANOTHER fingerprint. Approving replaces the trusted terminal: be sure the old one was reset or replaced.'),
          terminal?.tfp ? h('p', {}, 'Trusted now: ', fingerprintText(terminal.tfp, 'pairing-paired-tfp')) : null,
          h('p', {}, 'Asking: ', fingerprintText(r.tfp, 'pairing-new-tfp')))
        : null,
      state === 'pending' && r.otherKeysWaiting > 0
        ? h('div', { class: 'warning', role: 'alert', id: 'pairing-other-keys' },
          h('p', {}, `${r.otherKeysWaiting === 1 ? 'Another key asks' : `${r.otherKeysWaiting} other keys ask`} to pair this serial too: one may be an impostor. Only the code the location contact reads from the terminal screen tells which request is the terminal's; reject the others.`))
        : null,
      state === 'pending' ? codeBlock(r.code) : null,
      state === 'pending' && !terminal
        ? h('p', { class: terminalError ? 'warning' : 'loading', id: 'pairing-contact-loading', role: 'status' }, terminalError
          ? `The terminal's contact number could not be loaded (${terminalError}) Do not approve before you have it: reload the page.`
          : 'Loading the contact number on record…')
        : null,
      state === 'pending' && terminal?.contact
        ? (mayDecide
          ? h('p', { class: 'call' }, 'Call the location contact on the number you have on record: ', h('strong', { id: 'pairing-contact' }, terminal.contact),
            ' — never on a number a caller gives you — and ask them to read the code on the terminal screen.')
          : h('p', { class: 'call' }, 'The location contact on record: ', h('strong', { id: 'pairing-contact' }, terminal.contact),
            '. The operator who decides calls them on it to hear the code.'))
        : null,
      state === 'pending' && terminal && !terminal.contact
        ? h('p', { class: 'warning', id: 'pairing-no-contact' }, mayDecide
          ? ['No contact number is on record for this terminal. Find the location\'s number in your own records',
            ' — never take one from a caller or from the terminal — and add it to the terminal before you approve.']
          : 'No contact number is on record for this terminal: an operator adds one before deciding.')
        : null);
    fill(facts, h('dl', { class: 'facts card' },
      h('dt', {}, 'Serial'), h('dd', { class: 'mono' }, h('a', { href: `#/terminals/${encodeURIComponent(r.serial)}` }, r.serial)),
      h('dt', {}, 'Name'), h('dd', {}, terminal ? terminal.name || '—' : '…'),
      h('dt', {}, 'Location'), h('dd', {}, terminal ? terminal.location || '—' : '…'),
      h('dt', {}, 'Contact'), h('dd', {}, terminal ? terminal.contact || '—' : '…'),
      h('dt', {}, 'TFP'), h('dd', {}, fingerprintText(r.tfp, 'pairing-tfp')),
      h('dt', {}, 'Remote address'), h('dd', { class: 'mono' }, r.remoteAddress),
      h('dt', {}, 'Requested'), h('dd', {}, formatTime(r.requestedAt)),
      h('dt', {}, 'Expires'), h('dd', {}, formatTime(r.expiresAt))),
    terminalInfo(r.info));
    if (state === 'pending' && r.code && !mayDecide) {
      // A viewer sees the request and its code, and is offered no decision: the server would refuse it (forbidden).
      if (!actions.contains(readOnly)) fill(actions, readOnly);
    } else if (state === 'pending' && r.code) {
      const has2fa = store.session?.has2fa === true;
      approveButton.disabled = !has2fa;
      no2fa.hidden = has2fa;
      if (!actions.contains(form)) fill(actions, form);
    } else {
      fill(actions);
    }
  }

  const serialShown = () => store.requests.get(requestId)?.serial ?? terminalAsked;
  const unsubscribe = store.subscribe((topic, detail) => {
    if (topic === 'terminals' && detail?.reset) {
      // A reconnection: a change of contact may have been missed meanwhile; ask again before showing one.
      terminal = null;
      terminalAsked = null;
      fetchRequest();
      return;
    }
    if (topic === 'terminals' && detail?.deleted) {
      if (detail.deleted.serial !== serialShown()) return;
      terminal = null;
      terminalError = 'the terminal was deleted.';
    } else if (topic === 'terminals') {
      const fresh = (detail?.terminal ? [detail.terminal] : detail?.filled ?? []).find((t) => t.serial === serialShown());
      if (!fresh) return;
      terminal = fresh;
    }
    if (topic === 'requests' || topic === 'terminals' || topic === 'session') render();
  });

  function fetchRequest() {
    ctx.call('pairing.get', { requestId }).then((r) => store.putRequest(r), (failure) => {
      if (!store.requests.has(requestId)) fill(head, h('p', { class: 'form-error', role: 'alert' }, errorText(failure)));
    });
  }

  render();
  fetchRequest();

  const el = h('section', { class: 'view' },
    h('p', { class: 'crumbs' }, h('a', { href: '#/pairing' }, '← Pairing requests')),
    h('h1', { tabindex: '-1' }, 'Pairing request'),
    head, actions, h('h2', {}, 'Details'), facts);
  return { el, title: 'Pairing request', dispose: unsubscribe };
}
