/**
 * @module Pairing history as the server pages it (pairing.list, newest first): a first page, then "Show more". The
 * rows are read from the store, so pushes add new requests on top and change the state of those shown.
 */
import { h } from './dom.js';
import { errorText } from './format.js';

/**
 * `filter()`: the list's arguments now ({ state?, serial? }); `render()`: redraws the list. `rows()` are the requests
 * known that the pages loaded so far cover: every one requested since the last row loaded, or all when there is no
 * older page.
 */
export function requestPages(ctx, { pageSize, filter, render }) {
  const { store } = ctx;
  /** `next`: the cursor of the next older page (null: none); `since`: the oldest request loaded while there is one. */
  const state = { loading: false, next: null, since: null, error: null };
  let seq = 0;

  async function load(more) {
    const mine = ++seq;
    const before = more ? state.next : null;
    if (!more) {
      // History loaded for another list is dropped: it would hold the memory of every page an operator ever opened.
      store.forgetDecided();
      Object.assign(state, { next: null, since: null });
    }
    Object.assign(state, { loading: true, error: null });
    render();
    try {
      const page = await ctx.call('pairing.list', { ...filter(), limit: pageSize, ...(before ? { before } : {}) });
      if (mine !== seq) return;
      state.next = page.next;
      state.since = page.next === null ? null : page.requests.at(-1)?.requestedAt ?? state.since;
      state.loading = false;
      store.addRequests(page.requests);
    } catch (failure) {
      if (mine !== seq) return;
      state.loading = false;
      state.error = errorText(failure);
    }
    render();
  }

  return {
    state,
    load,
    rows: () => store.requestsWhere({ ...filter(), since: state.since }),
    /** The line under the table: loading, the error, or the button for older requests. */
    footer(id) {
      if (state.loading) return h('p', { class: 'loading', role: 'status' }, 'Loading…');
      if (state.error) return h('p', { class: 'form-error', role: 'alert' }, state.error);
      if (state.next) return h('div', { class: 'pager' }, h('button', { type: 'button', class: 'secondary', id, onclick: () => load(true) }, 'Show older requests'));
      return null;
    },
  };
}
