import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LockError } from '../../src/errors.js';
import { openState } from '../../src/state/index.js';
import type { StateStore } from '../../src/state/store.js';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const holder = join(root, 'test/state/hold-lock.ts');

let dir: string;
let url: string;
let state: StateStore;
let child: ChildProcess | undefined;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'credops-lock-'));
  url = `sqlite://${join(dir, 'state.db')}`;
  state = await openState(url);
});

afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  child = undefined;
  await state.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Starts a second credops process that takes the lock; resolves once it holds it. */
async function startHolder(): Promise<ChildProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', holder, url], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  child = proc;
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolveLocked, reject) => {
    proc.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('locked')) resolveLocked();
    });
    proc.on('exit', (code) => reject(new Error(`holder exited early (${code}): ${stderr}`)));
  });
  return proc;
}

function exited(proc: ChildProcess): Promise<void> {
  return new Promise((done) => (proc.exitCode !== null || proc.signalCode !== null ? done() : proc.once('exit', () => done())));
}

const me = () => ({ pid: process.pid, host: hostname(), since: Date.now(), operation: 'reconcile' });

async function contend(proc: ChildProcess): Promise<void> {
  const err = await state.lock(me(), 400).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(LockError);
  expect((err as Error).message).toMatch(
    new RegExp(`^state is locked by reconcile \\(pid ${proc.pid} on host ${hostname()}, since \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\); waited 0\\.4s\\.`),
  );
}

describe('two credops processes on one state', () => {
  it('the second waits, fails naming the first, and gets the lock once the first releases it', async () => {
    const proc = await startHolder();
    await contend(proc);
    expect((await state.lockHolder())?.pid).toBe(proc.pid);

    proc.stdin!.write('release\n');
    const handle = await state.lock(me(), 10_000);
    expect((await state.lockHolder())?.pid).toBe(process.pid);
    await handle.release();
    await exited(proc);
    expect(proc.exitCode).toBe(0);
  });

  it('a holder that exits without releasing frees the lock on its way out', async () => {
    const proc = await startHolder();
    await contend(proc);
    proc.stdin!.write('exit\n');
    await exited(proc);
    expect(await state.lockHolder()).toBeUndefined();
    await (await state.lock(me(), 0)).release();
  });

  it('a holder killed with SIGKILL leaves its lock, which the next run takes over', async () => {
    const proc = await startHolder();
    await contend(proc);
    proc.kill('SIGKILL');
    await exited(proc);
    expect((await state.lockHolder())?.pid).toBe(proc.pid);

    const handle = await state.lock(me(), 0);
    expect((await state.lockHolder())?.pid).toBe(process.pid);
    await handle.release();
    expect(await state.lockHolder()).toBeUndefined();
  });
});
