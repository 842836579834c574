/**
 * @module The client of bench/http-layer.bench.ts, on a thread of its own so that its allocations are not counted as
 * the server's: keep-alive TLS connections, each sending a master call's request and waiting for its answer.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { KeepAliveConnection } from './fleet/keep-alive-connection.js';

export interface HttpLayerClientData {
  /** The request, byte for byte, as a terminal sends it. */
  request: Uint8Array;
  connections: number;
}

/** Send `requests` requests to 127.0.0.1:`port`, spread over the connections; answered with an `HttpLayerTally`. */
export interface HttpLayerRun {
  port: number;
  requests: number;
}

export interface HttpLayerTally {
  ok: number;
  failed: number;
}

const { request, connections } = workerData as HttpLayerClientData;
const bytes = Buffer.from(request);

/** The fleet generator's keep-alive client, one pool of connections per port. */
const pools = new Map<number, KeepAliveConnection[]>();

async function run({ port, requests }: HttpLayerRun): Promise<HttpLayerTally> {
  let pool = pools.get(port);
  if (!pool) {
    pool = await Promise.all(Array.from({ length: connections }, () => KeepAliveConnection.connect({ host: '127.0.0.1', port })));
    pools.set(port, pool);
  }
  const tally: HttpLayerTally = { ok: 0, failed: 0 };
  let left = requests;
  await Promise.all(pool.map(async (connection) => {
    while (left > 0) {
      left--;
      if ((await connection.request(bytes)).status === 200) tally.ok++;
      else tally.failed++;
    }
  }));
  return tally;
}

parentPort!.on('message', (message: HttpLayerRun) => {
  void run(message).then((tally) => parentPort!.postMessage(tally));
});
