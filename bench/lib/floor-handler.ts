/** @module The fleet's floor as a handler: answers the ping route with a fixed 200, with no copy of the head and no check at all. */
import type { HttpResponse } from 'uWebSockets.js';

/**
 * The body is read (and dropped), as the real server must before it can answer. Shared by bench/floor-uws-server.ts
 * and bench/http-layer.bench.ts, so that the micro benchmark's bare row is the fleet's floor by construction.
 */
export function floorPing(res: HttpResponse): void {
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  res.onData((_chunk, last) => {
    if (!last || aborted) return;
    res.cork(() => {
      res.writeStatus('200 OK').writeHeader('content-type', 'application/json').end(JSON.stringify({ serverTime: new Date().toISOString() }));
    });
  });
}
