/**
 * @module Message passing between threads in batches: everything sent in one event-loop turn crosses
 * as one postMessage. With 64 calls in flight a batched call costs ~10 µs against ~28 µs for a postMessage
 * each (bench/thread-hop.bench.ts); flushing on a microtask instead was not faster at the tail in the fleet run.
 */
import type { MessagePort, Worker } from 'node:worker_threads';

type Port = Pick<MessagePort | Worker, 'postMessage' | 'on' | 'off'>;

export class BatchedPort<Out, In> {
  private queue: Out[] = [];
  private scheduled = false;
  private readonly onMessage: (batch: In[]) => void;

  constructor(private readonly port: Port, receive: (message: In) => void) {
    this.onMessage = (batch) => {
      for (const message of batch) receive(message);
    };
    port.on('message', this.onMessage);
  }

  send(message: Out): void {
    this.queue.push(message);
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate, not a microtask: requests parsed in the same I/O turn share the batch.
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length > 0) this.port.postMessage(batch);
  }

  detach(): void {
    this.port.off('message', this.onMessage);
  }
}
