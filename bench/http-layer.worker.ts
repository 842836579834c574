/**
 * @module The client of bench/http-layer.bench.ts, on a thread of its own so that its allocations are not counted as
 * the server's: keep-alive TLS connections, each sending a master call's request and waiting for its answer.
 */
import tls from 'node:tls';
import { parentPort, workerData } from 'node:worker_threads';

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

/** One keep-alive connection that reads answers framed by Content-Length, one request at a time. */
class Connection {
  private received: Buffer = Buffer.alloc(0);
  private onAnswer: (status: number) => void = () => undefined;

  private constructor(private readonly socket: tls.TLSSocket) {
    socket.on('data', (chunk: Buffer) => this.read(chunk));
  }

  static open(port: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => resolve(new Connection(socket)));
      socket.once('error', reject);
    });
  }

  /** Sends the request and resolves with the answer's status. */
  send(): Promise<number> {
    return new Promise((resolve) => {
      this.onAnswer = resolve;
      this.socket.write(bytes);
    });
  }

  private read(chunk: Buffer): void {
    this.received = this.received.length === 0 ? chunk : Buffer.concat([this.received, chunk]);
    const headEnd = this.received.indexOf('\r\n\r\n');
    if (headEnd < 0) return;
    const head = this.received.subarray(0, headEnd).toString('latin1');
    const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    if (this.received.length < headEnd + 4 + length) return;
    this.received = this.received.subarray(headEnd + 4 + length);
    this.onAnswer(Number(head.slice(9, 12)));
  }
}

const pools = new Map<number, Connection[]>();

async function run({ port, requests }: HttpLayerRun): Promise<HttpLayerTally> {
  let pool = pools.get(port);
  if (!pool) {
    pool = await Promise.all(Array.from({ length: connections }, () => Connection.open(port)));
    pools.set(port, pool);
  }
  const tally: HttpLayerTally = { ok: 0, failed: 0 };
  let left = requests;
  await Promise.all(pool.map(async (connection) => {
    while (left > 0) {
      left--;
      if ((await connection.send()) === 200) tally.ok++;
      else tally.failed++;
    }
  }));
  return tally;
}

parentPort!.on('message', (message: HttpLayerRun) => {
  void run(message).then((tally) => parentPort!.postMessage(tally));
});
