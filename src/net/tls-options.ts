/** @module TLS settings shared by every service: the server identity plus a modern cipher list (uSockets already refuses TLS < 1.2). */
import type { AppOptions } from 'uWebSockets.js';

/** TLS 1.2 suites with forward secrecy and AEAD only (Mozilla "intermediate"); TLS 1.3 suites are fixed by the library. */
const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export interface TlsFiles {
  keyFile: string;
  certFile: string;
}

export function tlsAppOptions(tls: TlsFiles): AppOptions {
  return { key_file_name: tls.keyFile, cert_file_name: tls.certFile, ssl_ciphers: TLS12_CIPHERS };
}
