/** @module Listening and closing for uWS apps: `listen` reports failure with a false token, not an exception. */
import uWS from 'uWebSockets.js';
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';

export interface Listening {
  readonly port: number;
  close(): void;
}

export function listen(app: TemplatedApp, host: string, port: number, name: string): Promise<Listening> {
  return new Promise((resolve, reject) => {
    app.listen(host, port, (token: us_listen_socket | false) => {
      // MUST check the token: uWS signals a failed bind (port in use, no permission) only by `false`.
      if (!token) {
        reject(new Error(`${name}: cannot listen on ${host}:${port} (port in use or not permitted)`));
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
