/** @module A slow link for tests: a loopback TCP relay that passes what the client sends on in small pieces, a few milliseconds apart. */
import net from 'node:net';

export interface SlowLink {
  /** `https://127.0.0.1:<port>`: the same service, reached through the link. */
  url: string;
  close(): Promise<void>;
}

/**
 * Relays to `127.0.0.1:targetPort`, passing the client's bytes on `pieceBytes` at a time, one piece every `gapMs`, the way
 * a slow or lossy link delivers them; answers come back at once. TLS passes through untouched, so pins still hold. The
 * server therefore reads a request in many pieces, and sees a TLS record only once the last of its bytes is in.
 */
export function startSlowLink(targetPort: number, opts: { pieceBytes?: number; gapMs?: number } = {}): Promise<SlowLink> {
  const pieceBytes = opts.pieceBytes ?? 1_000;
  const gapMs = opts.gapMs ?? 2;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    upstream.setNoDelay(true);
    sockets.add(client).add(upstream);
    const pending: Buffer[] = [];
    let timer: NodeJS.Timeout | null = null;
    const pump = (): void => {
      timer = null;
      const head = pending.shift();
      if (head === undefined) return;
      if (head.length > pieceBytes) pending.unshift(head.subarray(pieceBytes));
      upstream.write(head.subarray(0, pieceBytes));
      timer = setTimeout(pump, gapMs);
    };
    client.on('data', (bytes: Buffer) => {
      pending.push(bytes);
      if (timer === null) pump();
    });
    upstream.on('data', (bytes: Buffer) => client.write(bytes));
    const closeBoth = (): void => {
      if (timer !== null) clearTimeout(timer);
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', closeBoth);
    upstream.on('close', closeBoth);
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address() as net.AddressInfo;
      resolve({
        url: `https://127.0.0.1:${address.port}`,
        close: () => new Promise<void>((done) => {
          for (const socket of sockets) socket.destroy();
          server.close(() => done());
        }),
      });
    });
  });
}
