/**
 * The endpoint's own time. It follows the wall clock (so expirations it hands out look right
 * to SDK credential providers, which compare them with Date.now()) plus an offset that tests
 * move to expire credentials without waiting.
 */
export interface LocalAwsClock {
  now(): number;
  /** From now on, now() reads `ms` and keeps running from there. */
  set(ms: number): void;
  advance(ms: number): void;
  /** Waits real time; with now() this makes the clock usable as credops's `Clock`. */
  sleep(ms: number): Promise<void>;
}

export function offsetClock(): LocalAwsClock {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    set: (ms) => {
      offset = ms - Date.now();
    },
    advance: (ms) => {
      offset += ms;
    },
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
}

/** mulberry32: small, seeded, good enough to decide faults and mint ids reproducibly. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
