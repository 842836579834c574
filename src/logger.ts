/** @module pino logger: JSON by default, pretty on request; secrets are redacted by path as a second line of defence. */
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/** Paths that could carry secrets if a careless log call passed a whole object. */
export const REDACT_PATHS = [
  'password', '*.password', 'totp', '*.totp', 'token', '*.token', 'totpSecret', '*.totpSecret',
  'privateKey', '*.privateKey', 'privateKeyPem', '*.privateKeyPem', 'reveal', '*.reveal',
  'terminalNonce', '*.terminalNonce', 'args.password', 'args.totp', 'args.token',
  'headers.signature', 'headers.authorization', 'req.headers.cookie',
];

export function createLogger(opts: { level: string; pretty: boolean }, destination?: DestinationStream): Logger {
  const base = { level: opts.level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { pid: process.pid } };
  if (destination) return pino(base, destination);
  if (opts.pretty) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:standard' } } });
  }
  return pino(base);
}
