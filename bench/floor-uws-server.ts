/** @module The fleet benchmark's floor: uWebSockets.js over the server's TLS answering master's ping route with a fixed 200 and no checks at all, one thread. What it costs per call is what Node, uWS and TLS cost before any of our work; it exists only to be compared against. */
import { parseArgs } from 'node:util';
import uWS from 'uWebSockets.js';
import { tlsAppOptions } from '../src/net/tls-options.js';
import { identityPaths } from '../src/server/identity.js';
import { floorPing } from './lib/floor-handler.js';

const { values } = parseArgs({
  options: {
    'data-dir': { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
  },
});
const dataDir = values['data-dir'];
if (!dataDir) throw new Error('--data-dir is required (a pairing server data dir: its TLS identity is used)');

const app = uWS.SSLApp(tlsAppOptions(identityPaths(dataDir)));
app.post('/api/v1/ping', floorPing);
app.any('/*', (res) => {
  res.writeStatus('404 Not Found').writeHeader('content-type', 'application/json').end('{"error":"not_found","message":"no such route"}');
});
app.listen(values.host!, Number(values.port), (socket) => {
  if (!socket) throw new Error(`cannot listen on ${values.host}:${values.port}`);
  process.stdout.write(JSON.stringify({ msg: 'listening', port: uWS.us_socket_local_port(socket), pid: process.pid }) + '\n');
});
process.on('SIGTERM', () => process.exit(0));
