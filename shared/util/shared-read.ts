/**
 * SharedReads: concurrent reads of one key in one process share a request, and every caller
 * still gets a read that started after its call. With no read of the key in flight, one
 * starts at once; during one, the callers that arrive wait together for the next, which
 * starts when the current one ends. A read that started before a call could miss a write
 * made just before that call, so it is never handed to that caller: the reads stay as fresh
 * as unshared ones (linearizable), and a burst of callers costs at most two requests.
 */

interface Slot<T> {
  running?: Promise<T>;
  next?: Promise<T>;
}

/** Per key: the read in flight and the one its latecomers share (see the module comment). */
export class SharedReads<T> {
  private readonly slots = new Map<string, Slot<T>>();

  /** The result of a read of `key` (made by `fn`) that started after this call. */
  read(key: string, fn: () => Promise<T>): Promise<T> {
    let slot = this.slots.get(key);
    if (!slot) this.slots.set(key, (slot = {}));
    const s = slot;
    const start = (): Promise<T> => {
      const p = fn();
      s.running = p;
      const done = () => {
        if (s.running === p) s.running = undefined;
        if (!s.running && !s.next && this.slots.get(key) === s) this.slots.delete(key);
      };
      p.then(done, done);
      return p;
    };
    if (!s.running) return start();
    if (!s.next) {
      const next = s.running
        .then(
          () => undefined,
          () => undefined,
        )
        .then(() => {
          s.next = undefined;
          return start();
        });
      s.next = next;
    }
    return s.next;
  }
}
