/**
 * Test helper run as a separate process by lock.test.ts: takes the state lock,
 * says "locked", then waits for a command on stdin:
 *   "release\n" -> releases the lock and exits 0
 *   "exit\n"    -> exits without releasing (the exit hook must free the lock)
 * Killed with SIGKILL, it leaves the lock row behind for the parent to take over.
 */
import { hostname } from 'node:os';
import { createInterface } from 'node:readline';
import { openState } from '../../src/state/index.js';

const url = process.argv[2];
if (!url) throw new Error('usage: hold-lock.ts STATE_URL');

const state = await openState(url);
const handle = await state.lock({ pid: process.pid, host: hostname(), since: Date.now(), operation: 'reconcile' }, 10_000);
process.stdout.write('locked\n');

// Ends the process with the 'exit' event, so the store's exit hook runs.
const quit = (code: number) => process.exit.call(process, code);

for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'release') {
    await handle.release();
    await state.close();
    quit(0);
  }
  if (line === 'exit') quit(0);
}
