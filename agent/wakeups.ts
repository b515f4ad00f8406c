// The real clock of the device loops: sleeps that end in the same millisecond share one timer.
// Devices with the same interval and phase wake at the same slot, so at 100 devices this is one
// timer per slot instead of a hundred, and an abort is watched with one listener per signal
// instead of one EventTarget listener added and removed per sleep (both showed in profiles).

/** one timer per wake-up time, with the sleeps it ends */
interface Slot {
  timer: NodeJS.Timeout;
  wakes: Set<() => void>;
}
const due = new Map<number, Slot>();
/** pending sleeps per signal: resolved at once when the signal aborts */
const watched = new WeakMap<AbortSignal, Set<() => void>>();

function fire(at: number): void {
  const slot = due.get(at);
  due.delete(at);
  if (slot) for (const wake of slot.wakes) wake();
}

function watch(signal: AbortSignal): Set<() => void> {
  let set = watched.get(signal);
  if (set === undefined) {
    const fresh = new Set<() => void>();
    signal.addEventListener(
      'abort',
      () => {
        for (const abort of fresh) abort();
        fresh.clear();
      },
      { once: true },
    );
    watched.set(signal, fresh);
    set = fresh;
  }
  return set;
}

/** Resolve after ms (wall clock), or as soon as signal aborts; never rejects. */
export function sleepShared(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted || ms <= 0) return Promise.resolve();
  const at = Date.now() + ms;
  const aborts = watch(signal);
  return new Promise<void>((resolve) => {
    let slot = due.get(at);
    if (slot === undefined) {
      slot = { timer: setTimeout(fire, ms, at), wakes: new Set() };
      due.set(at, slot);
    }
    const mine = slot;
    const wake = (): void => {
      aborts.delete(abort);
      resolve();
    };
    // Aborted: leave the slot, and drop its timer when nobody else waits on it (no timer may hold
    // the process open after the loops stopped).
    const abort = (): void => {
      mine.wakes.delete(wake);
      if (mine.wakes.size === 0 && due.get(at) === mine) {
        clearTimeout(mine.timer);
        due.delete(at);
      }
      resolve();
    };
    aborts.add(abort);
    mine.wakes.add(wake);
  });
}
