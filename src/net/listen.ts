/** @module Listening and closing for uWS apps: `listen` reports failure with a false token, not an exception. */
import net from 'node:net';
import uWS from 'uWebSockets.js';
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { AppError } from '../errors.js';

export interface Listening {
  readonly port: number;
  close(): void;
}

export function listen(app: TemplatedApp, host: string, port: number, name: string): Promise<Listening> {
  return new Promise((resolve, reject) => {
    app.listen(host, port, (token: us_listen_socket | false) => {
      // MUST check the token: uWS signals a failed bind (port in use, no permission) only by `false`.
      if (!token) {
        reject(new AppError('conflict', `${name}: cannot listen on ${host}:${port} (port in use or not permitted)`));
        return;
      }
      let open = true;
      resolve({
        port: uWS.us_socket_local_port(token),
        close: () => {
          if (!open) return;
          open = false;
          uWS.us_listen_socket_close(token);
        },
      });
    });
  });
}

/**
 * Fails when another process already listens on `port`. uWS binds with SO_REUSEPORT (that is how the
 * threads share a port), which would otherwise let a second server silently take half the traffic.
 * `name`: the service, `gate`, `master`, `admin` or `metrics`, whose `--NAME-port` flag moves it.
 */
export function assertPortFree(host: string, port: number, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    // What to do, in the message: on a shared machine the default ports are often another server's. Said as the server's
    // flag: gate.open's refusal carries it to operators (cas gate open, the page), who pass it on to whoever runs the server.
    const inUse = `port in use): another program holds it (ss -ltnp 'sport = :${port}'); stop it, or move the ${name} service to another port (the server's --${name}-port)`;
    probe.once('error', (error: NodeJS.ErrnoException) =>
      reject(new AppError('conflict', `${name}: cannot listen on ${host}:${port} (${error.code === 'EADDRINUSE' ? inUse : `${error.code})`}`)));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/**
 * A free port on `host`. Threads share a port through SO_REUSEPORT, which needs a concrete number:
 * a second socket cannot join a port 0 bind. (Racy against other programs; used only when 0 is configured.)
 */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}
