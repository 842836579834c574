/**
 * @module For tsconfig.web.json only: the page's JSDoc imports its wire types from src/protocol/types.ts, whose
 * server-side types name Node's Buffer. The page gets no Node types (its code must not use Node's globals), so Buffer
 * is only given a shape here; nothing in the page uses it. `.d.mts`, not `.d.ts`: tsconfig.json's `src/**\/*.ts` MUST
 * NOT pick this global up (it would hide Node's Buffer from the server), and the web server serves no `.mts`.
 */
declare global {
  type Buffer = Uint8Array;
}
export {};
