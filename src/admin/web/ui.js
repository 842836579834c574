/** @module Page-wide feedback: toasts (announced politely), the connection notice, and a modal confirmation dialog. */
import { byId, h } from './dom.js';

const TOAST_MS = 6000;
/** Older toasts give way, so that a burst of pushes never covers the page. */
const MAX_TOASTS = 3;

export const ui = {
  /** A short message in the corner; `kind` is 'info' | 'ok' | 'warn' | 'danger'. */
  toast(text, kind = 'info') {
    const region = byId('toasts');
    const item = h('div', { class: `toast toast-${kind}` },
      h('span', {}, text),
      h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss', onclick: () => item.remove() }, '×'));
    region.append(item);
    while (region.children.length > MAX_TOASTS) region.firstElementChild?.remove();
    setTimeout(() => item.remove(), TOAST_MS);
  },

  connection(up) {
    const notice = byId('connection');
    notice.hidden = up;
  },

  /** Resolves true when the operator confirms; Escape or Cancel resolve false. */
  confirm({ title, text, confirmLabel, danger = false }) {
    return new Promise((resolve) => {
      const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close('cancel') }, 'Cancel');
      const ok = h('button', { type: 'button', id: 'confirm-ok', class: danger ? 'danger' : 'primary', onclick: () => dialog.close('ok') }, confirmLabel);
      const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'dialog-title', 'aria-describedby': 'dialog-text' },
        h('h2', { id: 'dialog-title' }, title),
        h('p', { id: 'dialog-text' }, text),
        h('div', { class: 'actions' }, cancel, ok));
      dialog.addEventListener('close', () => {
        resolve(dialog.returnValue === 'ok');
        dialog.remove();
      });
      document.body.append(dialog);
      dialog.showModal();
      // The safe choice has the focus: Enter alone must not unpair or reject.
      cancel.focus();
    });
  },
};
