/** @module Pre-signed master calls in a file, so a second load-generator process sends the very requests the first signed (signing them again would cost the run 15 s). */
import fs from 'node:fs';

/** Layout: terminals and calls per terminal (u32 each), then every request as a u32 length and its bytes, terminal by terminal. */
export function savePresigned(file: string, requests: readonly (readonly Buffer[])[]): void {
  const perTerminal = requests[0]?.length ?? 0;
  if (requests.some((r) => r.length !== perTerminal)) throw new Error('every terminal must have the same number of pre-signed calls');
  let size = 8;
  for (const calls of requests) for (const request of calls) size += 4 + request.length;
  const data = Buffer.allocUnsafe(size);
  let at = data.writeUInt32LE(requests.length, 0);
  at = data.writeUInt32LE(perTerminal, at);
  for (const calls of requests) {
    for (const request of calls) {
      at = data.writeUInt32LE(request.length, at);
      at += request.copy(data, at);
    }
  }
  fs.writeFileSync(file, data, { mode: 0o600 });
}

/** The requests of `savePresigned`, each a view into the one buffer read. */
export function loadPresigned(file: string): Buffer[][] {
  const data = fs.readFileSync(file);
  const fail = (): never => {
    throw new Error(`${file} is not a complete file of pre-signed calls`);
  };
  if (data.length < 8) fail();
  const terminals = data.readUInt32LE(0);
  const perTerminal = data.readUInt32LE(4);
  let at = 8;
  const requests: Buffer[][] = [];
  for (let t = 0; t < terminals; t++) {
    const calls: Buffer[] = [];
    for (let c = 0; c < perTerminal; c++) {
      if (at + 4 > data.length) fail();
      const length = data.readUInt32LE(at);
      if (at + 4 + length > data.length) fail();
      calls.push(data.subarray(at + 4, at + 4 + length));
      at += 4 + length;
    }
    requests.push(calls);
  }
  if (at !== data.length) fail();
  return requests;
}
