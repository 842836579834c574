/**
 * @module Fetches the terminals views need and the page has not seen (terminals.get), a few at a time and each once:
 * those named by pending requests and pages of pairing history.
 */

/**
 * At most this many gets in flight. The server answers a connection's requests in order, so an operator's own request
 * never waits behind more than these; a burst of pairing requests or a page of history does not flood the channel.
 */
const IN_FLIGHT = 2;

/** `read(op, args)`: an op that is not operator activity (these fetches are the page's own). */
export function terminalFetcher(store, read) {
  const queue = [];
  /** Serials waiting or in flight. */
  const wanted = new Set();
  let running = 0;
  /** Bumped by `clear`: an answer asked for before a reconnection or logout is dropped. */
  let generation = 0;

  function pump() {
    while (running < IN_FLIGHT && queue.length > 0) {
      const serial = queue.shift();
      const asked = generation;
      running += 1;
      read('terminals.get', { serial })
        .then((terminal) => {
          if (asked === generation) store.putTerminal(terminal);
        }, (failure) => {
          // Not a terminal (deleted since the request named it). Other failures (a lost connection) ask again later.
          if (asked === generation && failure.code === 'not_found') store.absent.add(serial);
        })
        .finally(() => {
          running -= 1;
          if (asked === generation) wanted.delete(serial);
          pump();
        });
    }
  }

  return {
    /** Queues the serials neither cached nor known to be no terminal. */
    want(serials) {
      for (const serial of serials) {
        if (store.terminals.has(serial) || store.absent.has(serial) || wanted.has(serial)) continue;
        wanted.add(serial);
        queue.push(serial);
      }
      pump();
    },
    clear() {
      generation += 1;
      queue.length = 0;
      wanted.clear();
    },
  };
}
