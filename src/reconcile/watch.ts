import { createHash } from 'node:crypto';
import { errorMessage, formatDiagnostic, ValidationError, type Diagnostic } from '../errors.js';
import type { AppliedSnapshot, DesiredModel } from '../model/types.js';
import { canonicalJson } from '../plan/normalise.js';
import type { ReconcileEvent, ReconcileResult } from './index.js';

/**
 * `credops watch`: reconcile whenever the repo has a new commit, and in
 * between wake for the next sink or lease deadline (a renewal, the end of a
 * grace, an expiry), so that a rotation happens at its renew_before moment and
 * not up to an interval late. A failed iteration is logged and retried; the
 * loop itself only ends when `signal` aborts, and then only between steps.
 */

/** Never spin: a deadline that a reconcile left due (it failed) is looked at again at most this often. */
export const MIN_SLEEP_MS = 1_000;
/** After a failure, retry after this, doubling up to the interval: AWS may be down for a while. */
export const RETRY_FIRST_MS = 5_000;
/**
 * A timer does not count time a machine spends suspended, but leases expire
 * on the wall clock. Sleeping in slices this long and looking at the wall clock
 * between them keeps a laptop that wakes up from missing a rotation.
 */
export const MAX_SLEEP_SLICE_MS = 60_000;
/** Validation errors are logged, but not hundreds of them in one line. */
const MAX_LOGGED_DIAGNOSTICS = 20;

export type LogLevel = 'info' | 'warn' | 'error';
/** One log line: an action and its facts. Never a secret. */
export interface LogEntry {
  level: LogLevel;
  event: string;
  [field: string]: unknown;
}

export interface IterationOutcome {
  startedAt: number;
  finishedAt: number;
  /** The repo was read, and every reconcile, sink and revocation of this iteration succeeded. */
  ok: boolean;
  /** Why a reconcile ran; undefined when nothing was due. */
  reason?: 'start' | 'new commit' | 'deadline';
  /** How long the reconcile took, when one ran (or was attempted). */
  reconcileMs?: number;
  /** The commit reconciled, or read. */
  commit?: string;
  error?: string;
}

export interface WatchDeps {
  now(): number;
  /** Resolves after ms, or as soon as signal aborts, leaving no timer behind. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  /** Stop: the current step finishes, then watch() returns. */
  signal: AbortSignal;
  intervalMs: number;
  /** Fetches (a git URL) or reads (a directory) and validates the repo; throws on failure. */
  readRepo(): Promise<{ model: DesiredModel; warnings: Diagnostic[] }>;
  /** The state's applied snapshot; kept alive while the repo cannot be read. */
  applied(): Promise<AppliedSnapshot>;
  /** The earliest moment a sink or lease needs attention (reconcile/lifecycle.ts nextDeadline). */
  nextDeadline(model: DesiredModel): Promise<number | undefined>;
  /** reconcile() of the desired model, holding the state lock only for its duration. */
  reconcile(model: DesiredModel, warnings: Diagnostic[], log: (e: ReconcileEvent) => void): Promise<ReconcileResult>;
  log(entry: LogEntry): void;
  /** Told after every iteration (health and metrics). */
  observe?(outcome: IterationOutcome): void;
}

export async function watch(deps: WatchDeps): Promise<void> {
  const { signal, log } = deps;
  let reconciledKey: string | undefined;
  let readCommit: string | undefined;
  let failures = 0;
  log({ level: 'info', event: 'watch.started', interval_seconds: deps.intervalMs / 1000 });

  while (!signal.aborted) {
    const startedAt = deps.now();
    let model: DesiredModel | undefined;
    let warnings: Diagnostic[] = [];
    let readError: string | undefined;
    let outcome: IterationOutcome;
    try {
      try {
        ({ model, warnings } = await deps.readRepo());
        if (model.commit !== readCommit) {
          log({ level: 'info', event: 'repo.read', commit: model.commit, roles: model.roles.length, sinks: model.sinks.length });
          for (const w of warnings) log({ level: 'warn', event: 'repo.warning', message: formatDiagnostic(w) });
          readCommit = model.commit;
        }
      } catch (err) {
        readError = errorMessage(err);
        log({ level: 'error', event: 'repo.failed', error: readError, ...diagnosticsOf(err) });
        // A bad commit must not stop rotation: keep what the state applied alive until a good one comes.
        model = desiredFromApplied(await deps.applied());
        warnings = [];
      }
      outcome = await step(model, warnings, readError);
    } catch (err) {
      outcome = { startedAt, finishedAt: deps.now(), ok: false, error: errorMessage(err) };
      log({ level: 'error', event: 'watch.iteration_failed', error: outcome.error });
    }
    failures = outcome.ok ? 0 : failures + 1;
    deps.observe?.(outcome);
    if (signal.aborted) break;

    const deadline = model ? await deps.nextDeadline(model).catch(() => undefined) : undefined;
    const wake = nextWake({ now: deps.now(), lastRunAt: startedAt, intervalMs: deps.intervalMs, deadline, failures });
    if (outcome.reason || !outcome.ok) log({ level: 'info', event: 'watch.waiting', until: new Date(wake.at).toISOString(), reason: wake.reason });
    await sleepUntil(deps, wake.at);
  }
  log({ level: 'info', event: 'watch.stopped' });

  async function step(model: DesiredModel | undefined, warnings: Diagnostic[], readError: string | undefined): Promise<IterationOutcome> {
    const startedAt = deps.now();
    if (!model) return { startedAt, finishedAt: deps.now(), ok: false, error: readError ?? 'nothing to reconcile' };
    const key = modelKey(model);
    let reason: IterationOutcome['reason'];
    if (!readError && key !== reconciledKey) reason = reconciledKey === undefined ? 'start' : 'new commit';
    else {
      const deadline = await deps.nextDeadline(model);
      if (deadline !== undefined && deadline <= startedAt) reason = 'deadline';
    }
    if (!reason) return { startedAt, finishedAt: deps.now(), ok: !readError, commit: model.commit, ...(readError && { error: readError }) };

    log({ level: 'info', event: 'reconcile.started', commit: model.commit, reason, ...(readError && { from: 'the applied state' }) });
    let result: ReconcileResult;
    try {
      result = await deps.reconcile(model, warnings, (e) => {
        const entry = reconcileEventEntry(e);
        if (entry) log(entry);
      });
    } catch (err) {
      const finishedAt = deps.now();
      const error = errorMessage(err);
      log({ level: 'error', event: 'reconcile.failed', commit: model.commit, error, duration_seconds: (finishedAt - startedAt) / 1000, ...diagnosticsOf(err) });
      return { startedAt, finishedAt, ok: false, reason, reconcileMs: finishedAt - startedAt, commit: model.commit, error };
    }
    if (!readError) reconciledKey = key;
    const finishedAt = deps.now();
    const failedSinks = result.sinks.filter((s) => s.outcome === 'failed');
    const problems = [
      ...(readError ? [readError] : []),
      ...failedSinks.map((s) => `sink ${s.sink}: ${s.error ?? 'failed'}`),
      ...(result.staticRoles ?? []).filter((s) => s.outcome === 'failed').map((s) => `static role ${s.mount}/${s.name}: ${s.error ?? 'failed'}`),
      ...result.failed.map((f) => `revoke ${f.leaseId}: ${f.error}`),
    ];
    log({
      level: problems.length ? 'warn' : 'info',
      event: 'reconcile.finished',
      commit: model.commit,
      duration_seconds: (finishedAt - startedAt) / 1000,
      applied: result.applied,
      ...result.plan.summary,
      sinks_failed: failedSinks.length,
      revoked: result.revoked.length,
      revoke_failed: result.failed.length,
    });
    return {
      startedAt,
      finishedAt,
      ok: problems.length === 0,
      reason,
      reconcileMs: finishedAt - startedAt,
      commit: model.commit,
      ...(problems.length && { error: problems.join('; ') }),
    };
  }
}

/**
 * When to look again: at the interval, or sooner for a deadline to come. After
 * a failure, after the retry delay; a deadline that is still due then is the
 * failure itself (a sink that keeps failing), and waits for the retry too, so
 * that one broken sink delays the others' rotations by at most an interval.
 */
export function nextWake(a: { now: number; lastRunAt: number; intervalMs: number; deadline?: number; failures: number }): {
  at: number;
  reason: 'interval' | 'deadline' | 'retry';
} {
  let at = a.lastRunAt + a.intervalMs;
  let reason: 'interval' | 'deadline' | 'retry' = 'interval';
  const retryAt = a.now + retryDelayMs(a.failures, a.intervalMs);
  if (a.failures > 0 && retryAt < at) {
    at = retryAt;
    reason = 'retry';
  }
  if (a.deadline !== undefined && a.deadline < at && (a.deadline > a.now || a.failures === 0)) {
    at = a.deadline;
    reason = 'deadline';
  }
  return { at: Math.max(at, a.now + MIN_SLEEP_MS), reason };
}

export function retryDelayMs(failures: number, intervalMs: number): number {
  const backoff = RETRY_FIRST_MS * 2 ** Math.min(Math.max(failures - 1, 0), 20);
  return Math.max(MIN_SLEEP_MS, Math.min(backoff, intervalMs));
}

async function sleepUntil(deps: Pick<WatchDeps, 'now' | 'sleep' | 'signal'>, at: number): Promise<void> {
  for (let left = at - deps.now(); left > 0 && !deps.signal.aborted; left = at - deps.now()) {
    await deps.sleep(Math.min(left, MAX_SLEEP_SLICE_MS), deps.signal);
  }
}

/** What was applied, as a desired model: reconciling it changes nothing but keeps sinks rotating. */
export function desiredFromApplied(applied: AppliedSnapshot): DesiredModel | undefined {
  if (applied.commit === undefined) return undefined;
  return {
    repo: '(the applied state)',
    commit: applied.commit,
    config: { mounts: Object.fromEntries(applied.mounts.map((m) => [m.name, m])) },
    roles: applied.roles,
    ...(applied.staticRoles && { staticRoles: applied.staticRoles }),
    sinks: applied.sinks,
    ...(applied.access && { access: applied.access }),
  };
}

/** Same content, same key: a directory outside git has no commit to compare. */
export function modelKey(model: DesiredModel): string {
  const content = canonicalJson({ commit: model.commit, config: model.config, roles: model.roles, staticRoles: model.staticRoles ?? [], sinks: model.sinks, access: model.access ?? null }) ?? '';
  return createHash('sha256').update(content).digest('hex');
}

/** One log entry per action of a reconcile; sink starts and the no-change note are not actions. */
export function reconcileEventEntry(e: ReconcileEvent): LogEntry | undefined {
  switch (e.kind) {
    case 'recovered':
      return { level: 'warn', event: 'journal.recovered', rolled_back: e.rolledBack, completed: e.completed };
    case 'applied':
      return { level: 'info', event: 'repo.applied', commit: e.commit, add: e.add, change: e.change, destroy: e.destroy };
    case 'no-changes':
      return undefined;
    case 'root-rotated':
      return e.error
        ? { level: 'error', event: 'root.rotate_failed', mount: e.mount, error: e.error }
        : { level: 'info', event: 'root.rotated', mount: e.mount, access_key_id: e.accessKeyId, old_access_key_id: e.oldAccessKeyId };
    case 'revoke':
      return e.error
        ? { level: 'error', event: 'lease.revoke_failed', lease_id: e.leaseId, reason: e.reason, error: e.error }
        : { level: 'info', event: 'lease.revoked', lease_id: e.leaseId, reason: e.reason };
    case 'static-role': {
      const r = e.report;
      return {
        level: r.outcome === 'failed' ? 'error' : 'info',
        event: `static_role.${r.outcome}`,
        static_role: `${r.mount}/${r.name}`,
        username: r.username,
        ...(r.reason && { reason: r.reason }),
        ...(r.accessKeyId && { access_key_id: r.accessKeyId }),
        ...(r.deleted.length && { deleted: r.deleted }),
        ...(r.published.length && { published: r.published }),
        ...(r.error && { error: r.error }),
      };
    }
    case 'sink': {
      if (e.phase !== 'done' || !e.report) return undefined;
      const r = e.report;
      return {
        level: r.outcome === 'failed' ? 'error' : r.error ? 'warn' : 'info',
        event: `sink.${r.outcome}`,
        sink: r.sink,
        ...(r.reason && { reason: r.reason }),
        ...(r.target && { target: r.target }),
        ...(r.leaseId && { lease_id: r.leaseId }),
        ...(r.expiresAt !== undefined && { expires_at: new Date(r.expiresAt).toISOString() }),
        ...(r.retired.length && { retired: r.retired }),
        ...(r.revoked.length && { revoked: r.revoked }),
        ...(r.error && { error: r.error }),
      };
    }
  }
}

/** `{"time":..,"level":..,"event":..,...}` and a newline. */
export function jsonLogLine(entry: LogEntry, now: number): string {
  const { level, event, ...fields } = entry;
  return `${JSON.stringify({ time: new Date(now).toISOString(), level, event, ...fields })}\n`;
}

function diagnosticsOf(err: unknown): { diagnostics?: string[] } {
  if (!(err instanceof ValidationError)) return {};
  const errors = err.diagnostics.filter((d) => d.severity === 'error');
  return { diagnostics: errors.slice(0, MAX_LOGGED_DIAGNOSTICS).map(formatDiagnostic) };
}

