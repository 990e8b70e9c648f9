import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { systemClock, type Clock } from '../clock.js';

/**
 * A test seam, like CREDOPS_TEST_CRASH_AFTER_CALL: CREDOPS_TEST_CLOCK_FILE
 * names a file holding a number of milliseconds added to the wall clock. A
 * story moves a long-running process's time forward by writing it (a sink's
 * renew_before, the end of a grace), so that no test waits real minutes.
 * Unset, which it always is outside the tests: the system clock.
 */
export const TEST_CLOCK_FILE_ENV = 'CREDOPS_TEST_CLOCK_FILE';

/** How often a sleep on the test clock looks at the file again. */
const TEST_CLOCK_POLL_MS = 50;

export function runClock(env: NodeJS.ProcessEnv): Clock {
  const file = env[TEST_CLOCK_FILE_ENV];
  if (!file) return systemClock;
  const offset = (): number => {
    try {
      return Number(readFileSync(file, 'utf8').trim()) || 0;
    } catch {
      return 0;
    }
  };
  const now = () => Date.now() + offset();
  return {
    now,
    sleep: (ms) => sleepOn({ now, sleep: async () => {} }, ms, new AbortController().signal),
  };
}

/** Sleeps ms on the clock, or until signal aborts; on the test clock in short slices, so a jump of its time wakes it. */
export async function sleepOn(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  if (clock === systemClock) {
    await delay(ms, undefined, { signal }).catch(() => {});
    return;
  }
  const until = clock.now() + ms;
  for (let left = ms; !signal.aborted && left > 0; left = until - clock.now()) {
    await delay(Math.min(TEST_CLOCK_POLL_MS, left), undefined, { signal }).catch(() => {});
  }
}
