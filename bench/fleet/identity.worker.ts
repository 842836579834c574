/** @module Worker entry of the identity pool: generates terminal keys and self-signed certificates with the project's own certificate code. */
import { createSelfSignedCertificate, generateKeyPair } from '../../src/crypto/certificates.js';

export type IdentityTask =
  | { kind: 'rsa-keys'; count: number }
  | { kind: 'certificates'; items: { serial: string; privateKeyPem: string }[] }
  | { kind: 'ec-identities'; serials: string[] };

export interface GeneratedIdentity {
  serial: string;
  privateKeyPem: string;
  certDer: string;
}

export default function generate(task: IdentityTask): string[] | GeneratedIdentity[] {
  switch (task.kind) {
    case 'rsa-keys':
      return Array.from({ length: task.count }, () => generateKeyPair('rsa', 2048).privateKeyPem);
    case 'certificates':
      return task.items.map(({ serial, privateKeyPem }) => ({
        serial, privateKeyPem, certDer: createSelfSignedCertificate({ privateKeyPem, commonName: serial }).der.toString('base64'),
      }));
    case 'ec-identities':
      return task.serials.map((serial) => {
        const { privateKeyPem } = generateKeyPair('ec');
        return { serial, privateKeyPem, certDer: createSelfSignedCertificate({ privateKeyPem, commonName: serial }).der.toString('base64') };
      });
  }
}
