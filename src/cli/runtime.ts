import type { Command } from 'commander';
import { hostname } from 'node:os';
import { AuditLog } from '../audit.js';
import type { AwsClients } from '../aws/clients.js';
import type { Engine, EngineDeps } from '../engine/index.js';
import type { Clock } from '../clock.js';
import { runClock } from './test-clock.js';
import { parseDuration } from '../duration.js';
import type { SinkContext } from '../sinks/index.js';
import type { EngineConfig } from '../model/types.js';
import { NoStateError, openState } from '../state/index.js';
import { locate, type Location } from './location.js';
import type { LockOwner, StateStore } from '../state/store.js';

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

export interface StateOptions {
  /**
   * The command only reads: a state that does not exist yet is not created
   * (it behaves as an empty one, and says so on stderr).
   */
  readOnly?: boolean;
  /** The repo's config, when the command loaded it (its state: and audit_log:). */
  config?: Pick<EngineConfig, 'state' | 'audit_log'>;
}

/** Opens the run's state (cli/location.ts says which); the caller closes it. */
export async function openRunState(cmd: Command, run: Run, opts: StateOptions = {}): Promise<{ state: StateStore; where: Location }> {
  const where = await locate(cmd, run.io, opts.config);
  try {
    return { state: await openState(where.stateUrl, { cwd: where.stateBase, create: !opts.readOnly, readOnce: Boolean(opts.readOnly) }), where };
  } catch (err) {
    if (!(opts.readOnly && err instanceof NoStateError)) throw err;
    run.io.stderr(`No state at ${err.location} yet: nothing has been applied or issued with it. Showing an empty state.\n`);
    return { state: await openState('sqlite::memory:'), where };
  }
}

/** Opens the run's state (cli/location.ts says which), runs fn, always closes it. */
export async function withState<T>(cmd: Command, run: Run, fn: (state: StateStore, where: Location) => Promise<T>, opts: StateOptions = {}): Promise<T> {
  const { state, where } = await openRunState(cmd, run, opts);
  try {
    return await fn(state, where);
  } finally {
    await state.close();
  }
}

/**
 * Everything a command acts with, wired once per run: the state, one set of
 * AWS clients (lazily connected, shared by the engine and the sinks so that one
 * run shares its connections and retry state), the engine, the sinks' context
 * and the audit log.
 */
export interface Runtime {
  state: StateStore;
  clients: AwsClients;
  engine: Engine;
  sinks: SinkContext;
  audit: AuditLog;
  clock: Clock;
  env: NodeJS.ProcessEnv;
}

/**
 * The engine and the AWS SDK are loaded here, when a command first needs them:
 * `--version`, `validate`, a plan without --refresh and a cached
 * credential-process never pay for them (issue #11).
 */
export async function runtimeFor(state: StateStore, io: Io, where: Pick<Location, 'auditPath'>, opts: Pick<EngineDeps, 'applied'> = {}): Promise<Runtime> {
  const [{ Engine }, { awsClientsFor }] = await Promise.all([import('../engine/index.js'), import('../engine/root.js')]);
  const clients = awsClientsFor(state, io.env);
  const clock = runClock(io.env);
  const audit = new AuditLog(where.auditPath, clock, io.env);
  return {
    state,
    clients,
    engine: new Engine({ state, clients, clock, audit, ...opts }),
    sinks: { clients, cwd: io.cwd, home: io.env.HOME, stateId: state.id },
    audit,
    clock,
    env: io.env,
  };
}

/** withState, with the run's Runtime built on the state. */
export async function withRuntime<T>(cmd: Command, run: Run, fn: (rt: Runtime) => Promise<T>, opts: StateOptions = {}): Promise<T> {
  return withState(cmd, run, async (state, where) => fn(await runtimeFor(state, run.io, where)), opts);
}

/**
 * Runs fn holding the state's writer lock (DESIGN invariant 5). The lock wait is
 * --lock-timeout (default 30s, Terraform's -lock-timeout spirit): long enough
 * for a scheduled run to finish a step, short enough that CI fails visibly.
 */
export async function withLock<T>(cmd: Command, state: StateStore, operation: string, fn: () => Promise<T>): Promise<T> {
  const handle = await state.lock(lockOwner(operation), lockTimeoutMs(cmd));
  try {
    return await fn();
  } finally {
    await handle.release();
  }
}

/** This process, holding the lock for `operation`. */
export function lockOwner(operation: string): LockOwner {
  return { pid: process.pid, host: hostname(), since: Date.now(), operation };
}

/** --lock-timeout in milliseconds (default 30s). */
export function lockTimeoutMs(cmd: Command): number {
  return parseDuration(globalOptions(cmd).lockTimeout ?? '30s') * 1000;
}

/** Colour only on a terminal, and never when NO_COLOR is set (no-color.org). */
export function useColor(io: Io): boolean {
  return io.isTTY && !io.env.NO_COLOR && io.env.TERM !== 'dumb';
}
