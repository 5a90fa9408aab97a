/**
 * Read-modify-write sequences over an asynchronous store were atomic while the store answered
 * synchronously; with an await between the read and the write, two of them interleave and one
 * overwrites the other. An AsyncMutex runs such sequences one after another, in call order.
 * A sequence that fails does not stop the ones queued behind it.
 */
export class AsyncMutex {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs `fn` once every sequence queued before it has settled; resolves or rejects as it does. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    // The queue moves on whatever the outcome; the caller sees the rejection through `result`.
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
