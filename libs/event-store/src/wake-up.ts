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
