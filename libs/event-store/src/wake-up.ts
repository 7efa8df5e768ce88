import { EventEmitter } from 'node:events';

/** In-process wake-up for followers; coalesces bursts of appends into one signal per tick. */
export class WakeUp {
  private readonly emitter = new EventEmitter().setMaxListeners(0);
  private pending = false;

  signal(): void {
    if (this.pending) return;
    this.pending = true;
    setImmediate(() => {
      this.pending = false;
      this.emitter.emit('wake');
    });
  }

  subscribe(listener: () => void): () => void {
    this.emitter.on('wake', listener);
    return () => this.emitter.off('wake', listener);
  }
}

/** A loop's pause that ends early on wake(): polling with a wake-up hint. */
export class Waiter {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  wake(): void {
    this.emitter.emit('wake');
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.emitter.off('wake', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.emitter.once('wake', done);
    });
  }
}
