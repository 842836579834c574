/** @module comlink's Node adapter, typed: its CommonJS build exports the function itself, which TypeScript's typings call `.default`. */
import type { MessagePort } from 'node:worker_threads';
import type { Endpoint } from 'comlink';
import adapter from 'comlink/dist/umd/node-adapter.js';

const nodeEndpoint = adapter as unknown as (typeof adapter)['default'];

export function endpointOf(port: MessagePort): Endpoint {
  return nodeEndpoint(port as never);
}
