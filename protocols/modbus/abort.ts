// AbortSignal helpers that add one listener per signal however many pollers watch it, so a shared
// shutdown signal passed to hundreds of devices raises no MaxListeners warning.

const watchers = new WeakMap<AbortSignal, Set<() => void>>();

/** Call fn once when signal aborts; returns the function that stops watching. */
export function watchAbort(signal: AbortSignal | undefined, fn: () => void): () => void {
  if (!signal) return noop;
  if (signal.aborted) {
    fn();
    return noop;
  }
  let set = watchers.get(signal);
  if (!set) {
    const fresh = new Set<() => void>();
    watchers.set(signal, fresh);
    signal.addEventListener(
      'abort',
      () => {
        watchers.delete(signal);
        for (const f of fresh) f();
      },
      { once: true },
    );
    set = fresh;
  }
  const mine = set;
  mine.add(fn);
  return () => mine.delete(fn);
}

/** Wait ms, or less if the signal aborts first (never rejects). */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    let unwatch = noop;
    const timer = setTimeout(() => {
      unwatch();
      resolve();
    }, ms);
    unwatch = watchAbort(signal, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function noop(): void {}
