/**
 * @module A probe for the measured server, preloaded into every thread of it, that tells live memory from garbage:
 *
 *   BENCH_SERVER_NODE_ARGS='--expose-gc --import ./dist/bench/probes/gc-probe.js' npm run bench:endurance -- --terminals 100000
 *
 * Every GC_PROBE_SECONDS (default 60) each thread runs a full collection. V8 counts neither the OpenSSL memory of a
 * parsed key nor a socket's, so their garbage waits for a mark-compact that the JavaScript heap's own growth decides
 * on; until then the process's own memory includes it. With this probe it holds what is live, give or take a minute's
 * garbage: memory that still climbs under it is kept, not awaiting a collection. Each collection pauses its thread for
 * milliseconds, so latency under the probe is not the server's. Measurement only; never loaded in production.
 */
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('gc-probe needs --expose-gc beside --import');

const periodMs = Number(process.env.GC_PROBE_SECONDS ?? 60) * 1000;
if (!(periodMs > 0)) throw new Error(`GC_PROBE_SECONDS must be a positive number of seconds (got ${process.env.GC_PROBE_SECONDS})`);

// Unref'd: the probe must not keep a thread (or the process) alive past its own end.
setInterval(gc, periodMs).unref();
