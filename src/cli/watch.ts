import { constants } from 'node:os';
import type { Command } from 'commander';
import { runClock, sleepOn } from './test-clock.js';
import { parseDuration } from '../duration.js';
import { UserError } from '../errors.js';
import type { IterationOutcome, LogEntry } from '../reconcile/watch.js';
import { addRepoOptions, readDesired, type RepoOptions } from './repo-options.js';
import { withLock, withRuntime, type Run, type Runtime } from './runtime.js';

interface WatchOptions extends RepoOptions {
  interval: string;
  healthPort?: string;
  healthHost: string;
}

/** A shorter interval would fetch the repo more often than any git host welcomes, for nothing: deadlines wake the loop anyway. */
const MIN_INTERVAL_SECONDS = 1;
const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;
/** How often watch checks live leases against AWS for drift (`reconcile` checks on every run). */
const REFRESH_EVERY_MS = 15 * 60_000;

/** `credops watch`: the long-running reconciler (src/reconcile/watch.ts), with JSON log lines on stdout. */
export function registerWatch(program: Command, run: Run): void {
  addRepoOptions(program.command('watch').description('reconcile continuously: on every new commit, and at every rotation and expiry deadline'))
    .option('--interval <duration>', 'how often to fetch the repo (rotations and expiries wake it in between)', '1m')
    .option('--health-port <port>', 'serve /healthz and /metrics on this port (0: any free port, logged as health.listening)')
    .option('--health-host <address>', 'address for --health-port to listen on (0.0.0.0 for every interface, e.g. in a container)', '127.0.0.1')
    .action(async (opts: WatchOptions, cmd: Command) => {
      const intervalSeconds = parseDuration(opts.interval);
      if (intervalSeconds < MIN_INTERVAL_SECONDS) throw new UserError(`--interval must be at least ${MIN_INTERVAL_SECONDS}s`);
      const healthPort = opts.healthPort === undefined ? undefined : parsePort(opts.healthPort);
      const [{ startHealthServer, WatchHealth }, { jsonLogLine }] = await Promise.all([import('./health.js'), import('../reconcile/watch.js')]);
      const clock = runClock(run.io.env);
      const log = (entry: LogEntry) => run.io.stdout(jsonLogLine(entry, clock.now()));
      const stop = stopOnSignals(run, log);
      try {
        await withRuntime(cmd, run, async (rt) => {
          const { state } = rt;
          const health = new WatchHealth({ startedAt: clock.now(), intervalMs: intervalSeconds * 1000 });
          const server =
            healthPort === undefined
              ? undefined
              : await startHealthServer({ host: opts.healthHost, port: healthPort, health, leases: () => state.listLeases(), now: clock.now }).catch(
                  (err: NodeJS.ErrnoException) => {
                    throw new UserError(`--health-port: cannot listen on ${opts.healthHost}:${healthPort}: ${err.code ?? err.message}`, { cause: err });
                  },
                );
          if (server) log({ level: 'info', event: 'health.listening', host: opts.healthHost, port: server.port });
          try {
            await reconcileLoop({
              run,
              rt,
              repo: opts,
              intervalSeconds,
              signal: stop.signal,
              log,
              observe: (outcome) => health.record(outcome),
              locked: (fn) => withLock(cmd, state, 'watch', fn),
            });
          } finally {
            await server?.close();
          }
        });
      } finally {
        stop.dispose();
      }
    });
}

/** What the reconcile loop of `watch` and `server` is given. */
export interface ReconcileLoopOptions {
  run: Run;
  rt: Runtime;
  repo: RepoOptions;
  intervalSeconds: number;
  signal: AbortSignal;
  log: (entry: LogEntry) => void;
  observe?: (outcome: IterationOutcome) => void;
  /** Runs one reconcile holding the state's lock (watch takes it for each; server holds it while it leads). */
  locked: <T>(fn: () => Promise<T>) => Promise<T>;
}

/** The loop of src/reconcile/watch.ts, wired to the repo, the state and reconcile(). */
export async function reconcileLoop(o: ReconcileLoopOptions): Promise<void> {
  // The loop and the engine are loaded when it starts, not with the CLI.
  const [{ reconcile }, { nextDeadline }, { watch }] = await Promise.all([import('../reconcile/index.js'), import('../reconcile/lifecycle.js'), import('../reconcile/watch.js')]);
  const { rt, run } = o;
  const { state, clock } = rt;
  let lastRefresh = -Infinity;
  await watch({
    now: clock.now,
    sleep: (ms, signal) => sleepOn(clock, ms, signal),
    signal: o.signal,
    intervalMs: o.intervalSeconds * 1000,
    // Warnings are logged by the loop as JSON, once per commit.
    readRepo: () => readDesired(o.repo, { ...run.io, stderr: () => {} }, { applied: async () => [] }),
    applied: () => state.getApplied(),
    nextDeadline: (model) => nextDeadline(state, model.sinks, undefined, model.staticRoles),
    reconcile: (model, warnings, reconcileLog) =>
      o.locked(async () => {
        // The drift check reads IAM for every live lease; once per REFRESH_EVERY_MS
        // is enough for repair, where every wake-up would multiply the read traffic.
        const refresh = clock.now() - lastRefresh >= REFRESH_EVERY_MS;
        const result = await reconcile({ ...rt, log: reconcileLog }, model, { warnings, refresh });
        if (refresh) lastRefresh = clock.now();
        return result;
      }),
    log: o.log,
    ...(o.observe && { observe: o.observe }),
  });
}

/**
 * SIGTERM (Kubernetes, systemd) and SIGINT (Ctrl-C) stop the loop between
 * steps: the current reconcile finishes and releases the lock, the state is
 * closed, exit 0. A second signal gives up at once, as shells expect; the
 * journal makes that safe (DESIGN invariant 1) and a dead holder's lock is
 * taken over by the next run.
 */
export function stopOnSignals(run: Run, log: (entry: LogEntry) => void): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  if (run.signal.aborted) controller.abort();
  else run.signal.addEventListener('abort', onAbort, { once: true });
  const onSignal = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      log({ level: 'warn', event: 'watch.killed', signal: sig });
      process.exit(128 + (constants.signals[sig] ?? 0));
    }
    log({ level: 'info', event: 'watch.stopping', signal: sig });
    controller.abort();
  };
  for (const sig of STOP_SIGNALS) process.on(sig, onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      for (const sig of STOP_SIGNALS) process.off(sig, onSignal);
      run.signal.removeEventListener('abort', onAbort);
    },
  };
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65_535) throw new UserError(`--health-port must be a port number (0 to 65535), got "${value}"`);
  return port;
}
