import type { Command } from 'commander';
import { hostname } from 'node:os';
import { openState, stateUrlFrom } from '../state/index.js';
import type { LockOwner, StateStore } from '../state/store.js';
import { parseDuration } from '../duration.js';

/** What a command needs from the outside world; tests pass their own. */
export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  /** All of standard input (for secrets such as `config root`'s secret key). */
  readStdin(): Promise<string>;
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export const processIo: Io = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
  isTTY: Boolean(process.stdout.isTTY),
  env: process.env,
  cwd: process.cwd(),
};

/** One CLI invocation: its I/O and its exit code. */
export interface Run {
  io: Io;
  exitCode: number;
  /** Set by long-running commands so SIGTERM can stop them between steps. */
  signal: AbortSignal;
}

export interface GlobalOptions {
  state?: string;
  debug?: boolean;
  lockTimeout?: string;
}

export function globalOptions(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}

/** Opens the state named by --state / CREDOPS_STATE / the default, runs fn, always closes it. */
export async function withState<T>(cmd: Command, run: Run, fn: (state: StateStore) => Promise<T>): Promise<T> {
  const state = await openState(stateUrlFrom(globalOptions(cmd).state, run.io.env));
  try {
    return await fn(state);
  } finally {
    await state.close();
  }
}

/**
 * Runs fn holding the state's writer lock (DESIGN invariant 5). The lock wait is
 * --lock-timeout (default 30s, Terraform's -lock-timeout spirit): long enough
 * for a scheduled run to finish a step, short enough that CI fails visibly.
 */
export async function withLock<T>(cmd: Command, state: StateStore, operation: string, fn: () => Promise<T>): Promise<T> {
  const owner: LockOwner = { pid: process.pid, host: hostname(), since: Date.now(), operation };
  const timeout = parseDuration(globalOptions(cmd).lockTimeout ?? '30s') * 1000;
  const handle = await state.lock(owner, timeout);
  try {
    return await fn();
  } finally {
    await handle.release();
  }
}

/** Colour only on a terminal, and never when NO_COLOR is set (no-color.org). */
export function useColor(io: Io): boolean {
  return io.isTTY && !io.env.NO_COLOR && io.env.TERM !== 'dumb';
}
