import type { Clock } from '../clock.js';
import type { Engine, IssuedCredential } from '../engine/index.js';
import { credentialKind, defaultPathOf } from '../engine/registry.js';
import { formatDuration } from '../duration.js';
import { errorMessage, LockLostError, UserError } from '../errors.js';
import type { DesiredModel, Lease, RoleSpec, SinkSpec, StaticRoleSpec } from '../model/types.js';
import { nextStaticDeadline } from './static-schedule.js';
import { canonicalJson } from '../plan/normalise.js';
import { roleFingerprint, scheduleSink, type SinkSchedule } from './schedule.js';

export { roleFingerprint, rotatingChange, scheduleSink, type NextAction, type SinkSchedule } from './schedule.js';
import { describeSink, sinkTypes, type Sink, type SinkContext, type SinkFactory } from '../sinks/index.js';
import type { SinkStatus, StateStore } from '../state/store.js';

/**
 * The sink lifecycle (issue #4): every sink of the repo holds one live
 * credential of its role; it is renewed or replaced before it expires, and a
 * replaced one stays valid for the sink's grace so that consumers never see a
 * gap. Sinks removed from the repo are cleaned up and their leases revoked.
 */

export interface LifecycleDeps {
  state: StateStore;
  engine: Pick<Engine, 'issue' | 'renew' | 'revoke' | 'waitUntilUsable'>;
  sinks: SinkContext;
  clock: Clock;
  log: (event: SinkEvent) => void;
  /** The sink types; default the registry of src/sinks. */
  sinkTypes?: Record<string, SinkFactory>;
}

export type SinkWork = 'issue' | 'renew' | 'rotate' | 'remove';

/** Before (`start`) and after (`done`) each sink with work to do. Never holds a secret. */
export interface SinkEvent {
  kind: 'sink';
  phase: 'start' | 'done';
  sink: string;
  work: SinkWork;
  reason: string;
  /** 1-based position of this sink among those with work. */
  done: number;
  total: number;
  report?: SinkReport;
}

export type SinkOutcome = 'issued' | 'renewed' | 'rotated' | 'removed' | 'unchanged' | 'failed';

export interface SinkReport {
  sink: string;
  outcome: SinkOutcome;
  /** Why something was done ("new sink", "expires in 20m", "config.name changed" ...). */
  reason?: string;
  /** Where the credential is (the sink's describe()). */
  target?: string;
  /** The lease the sink holds after this step. */
  leaseId?: string;
  /** Leases replaced by this step, valid until their grace ends. */
  retired: string[];
  /** Leases revoked by this step (a removed sink's, or one issued for a publish that failed). */
  revoked: string[];
  /** The issued credential's expiry (epoch ms). */
  expiresAt?: number;
  error?: string;
  /** Failed: attempts in a row so far, and when the next one is made (the backoff). */
  attempts?: number;
  nextAttemptAt?: number;
  /** Failed before, and not tried this run: its backoff has not passed. */
  deferred?: boolean;
}

/**
 * The earliest moment any sink or lease needs attention: a renewal or
 * replacement, the end of a grace, or an expiry. `watch` sleeps until then. A
 * moment in the past (0 for a sink without a credential) means now.
 */
export async function nextDeadline(state: StateStore, sinks: SinkSpec[], ctx?: SinkContext, staticRoles: StaticRoleSpec[] = []): Promise<number | undefined> {
  const leases = await state.listLeases();
  let earliest: number | undefined;
  const consider = (at: number | undefined) => {
    if (at !== undefined && (earliest === undefined || at < earliest)) earliest = at;
  };
  for (const lease of leases) consider(lease.revokeAt === undefined ? lease.expiresAt : Math.min(lease.revokeAt, lease.expiresAt));
  consider(await nextStaticDeadline(state, staticRoles));
  for (const spec of sinks) {
    if (spec.static_role) continue;
    const status = await state.getSinkStatus(spec.name);
    // Without a sink context the target cannot be computed; treat it as unchanged.
    const target = ctx ? describeSink(spec, ctx) : status?.published?.target;
    const schedule = scheduleSink({ spec, target: target ?? '', status, leases: leases.filter((l) => l.sink === spec.name), now: 0 });
    // A failing sink is retried when its backoff ends, not at every wake.
    const retryAt = status?.nextAttemptAt ?? 0;
    consider(Math.max(schedule.current ? (schedule.next.at ?? 0) : 0, schedule.due ? retryAt : 0));
  }
  return earliest;
}


/**
 * Brings every sink to its desired state, one sink at a time and each on its
 * own: a failing sink is recorded in its status and its report, and the next
 * sink goes ahead. `previous` is the applied sinks before this reconcile's
 * apply, to find sinks removed from the repo. Expired and retired leases are
 * left for engine.tidy(), which the caller runs afterwards.
 */
export async function reconcileSinks(deps: LifecycleDeps, desired: DesiredModel, opts: { previous?: SinkSpec[] } = {}): Promise<SinkReport[]> {
  const { state, clock, log } = deps;
  const types = deps.sinkTypes ?? sinkTypes;
  const ctx: SinkContext = { ...deps.sinks, mounts: deps.sinks.mounts ?? desired.config.mounts };
  const make = (spec: SinkSpec): Sink => {
    const factory = Object.hasOwn(types, spec.type) ? types[spec.type] : undefined;
    if (!factory) throw new UserError(`sink "${spec.name}" (${spec.source}): unknown sink type "${spec.type}"`);
    return factory(spec, ctx);
  };

  // One read of the leases and every sink status, whatever the number of sinks.
  const { leases, sinkStatus } = await state.listLeasesAndSinkStatus();
  const leasesOf = (name: string) => leases.filter((l) => l.sink === name);
  const wanted = new Set(desired.sinks.map((s) => s.name));
  type Job = { name: string; work: SinkWork; reason: string; run: () => Promise<SinkReport> };
  const jobs: Job[] = [];
  // In the repo's order, then the removed sinks; a job's slot is filled when it has run.
  const reports: (SinkReport | Job)[] = [];
  const pushJob = (job: Job) => {
    jobs.push(job);
    reports.push(job);
  };

  for (const spec of desired.sinks) {
    // A static role's sinks follow its rotation (static-roles.ts).
    if (spec.static_role) continue;
    const now = clock.now();
    const status = sinkStatus[spec.name];
    let sink: Sink;
    let target: string;
    try {
      sink = make(spec);
      target = sink.describe();
    } catch (err) {
      reports.push(await recordFailure(state, spec.name, status, now, { sink: spec.name, outcome: 'failed', retired: [], revoked: [], error: errorMessage(err) }));
      continue;
    }
    const role = desired.roles.find((r) => r.mount === spec.mount && r.name === spec.role);
    const schedule = scheduleSink({ spec, target, status, leases: leasesOf(spec.name), role: role && roleFingerprint(role), now });
    if (!schedule.due && !schedule.stray.length) {
      reports.push({ sink: spec.name, outcome: 'unchanged', target, leaseId: schedule.current?.leaseId, retired: [], revoked: [] });
      continue;
    }
    if (status?.nextAttemptAt !== undefined && now < status.nextAttemptAt && status.failedFor === attemptKey(spec, role)) {
      reports.push({
        sink: spec.name,
        outcome: 'failed',
        reason: `retried in ${formatDuration(Math.ceil((status.nextAttemptAt - now) / 1000))}, after ${status.failures ?? 1} failed attempt${status.failures === 1 ? '' : 's'}`,
        target,
        ...(status.lastError !== undefined && { error: status.lastError }),
        attempts: status.failures ?? 1,
        nextAttemptAt: status.nextAttemptAt,
        deferred: true,
        retired: [],
        revoked: [],
      });
      continue;
    }
    // A live lease the sink does not hold means a run stopped between publishing
    // and recording it: which one consumers have is unknown, so publish a new
    // credential and give every older one the grace.
    const due = schedule.due ?? { work: 'rotate' as const, reason: 'an unrecorded credential of it is live' };
    pushJob({
      name: spec.name,
      work: due.work,
      reason: due.reason,
      run: () => applySink({ deps, make, spec, sink, target, role, status, schedule, work: due.work, reason: due.reason }),
    });
  }

  // A sink is gone from the repo when it still has leases, was applied before,
  // or still records a published target: the last is a removal that failed
  // (its target stays until a later reconcile manages to remove it).
  const pending = Object.entries(await state.listSinkStatus()).filter(([, status]) => status.published).map(([name]) => name);
  const removed = new Set([...leases.map((l) => l.sink), ...(opts.previous ?? []).map((s) => s.name), ...pending]);
  for (const name of [...removed].sort()) {
    if (name === undefined || wanted.has(name)) continue;
    pushJob({ name, work: 'remove', reason: 'removed from the repo', run: () => removeSink(deps, make, name, leasesOf(name), opts.previous) });
  }

  let done = 0;
  for (const job of jobs) {
    done++;
    const event = { kind: 'sink' as const, sink: job.name, work: job.work, reason: job.reason, done, total: jobs.length };
    log({ ...event, phase: 'start' });
    const report = await job.run().catch((err: unknown): SinkReport => {
      if (err instanceof LockLostError) throw err;
      return { sink: job.name, outcome: 'failed', retired: [], revoked: [], error: errorMessage(err) };
    });
    reports[reports.indexOf(job)] = report;
    log({ ...event, phase: 'done', report });
  }
  return reports as SinkReport[];
}

/**
 * A failing sink backs off: the first retry a minute later, then 2, 4, 8...
 * minutes, at most an hour apart. Without it, a sink that cannot be issued
 * (a group that does not exist, a refused permission) would try, and fail, on
 * every reconcile and watch wake, costing AWS calls and filling the audit log;
 * and each attempt is a write to AWS, even if undone. A change to the sink or
 * its role is worth trying at once (the fix may be that change).
 */
export const SINK_RETRY_FIRST_MS = 60_000;
export const SINK_RETRY_MAX_MS = 3_600_000;

export function sinkRetryDelay(failures: number): number {
  return Math.min(SINK_RETRY_MAX_MS, SINK_RETRY_FIRST_MS * 2 ** Math.max(0, failures - 1));
}

/** What a failure is for: the sink's spec and its role, so that editing either retries at once. */
function attemptKey(spec: SinkSpec, role: RoleSpec | undefined): string {
  return canonicalJson({ spec, role: role && roleFingerprint(role) })!;
}

async function recordFailure(state: StateStore, name: string, status: SinkStatus | undefined, now: number, report: SinkReport, key?: string): Promise<SinkReport> {
  const failures = (status?.failures ?? 0) + 1;
  const nextAttemptAt = now + sinkRetryDelay(failures);
  await state.setSinkStatus(name, { ...status, lastAttemptAt: now, lastError: report.error, failures, nextAttemptAt, ...(key !== undefined && { failedFor: key }) });
  report.attempts = failures;
  report.nextAttemptAt = nextAttemptAt;
  return report;
}

/** The status after a success: the backoff is over. */
function succeeded(status: SinkStatus | undefined, at: { lastAttemptAt: number; lastSuccessAt: number; lastError?: string }): SinkStatus {
  const { failures: _f, nextAttemptAt: _n, failedFor: _k, ...rest } = status ?? {};
  return { ...rest, ...at, lastError: at.lastError };
}

interface ApplyArgs {
  deps: LifecycleDeps;
  make: (spec: SinkSpec) => Sink;
  spec: SinkSpec;
  sink: Sink;
  target: string;
  role: RoleSpec | undefined;
  status: SinkStatus | undefined;
  schedule: SinkSchedule;
  work: 'issue' | 'renew' | 'rotate';
  reason: string;
}

async function applySink(a: ApplyArgs): Promise<SinkReport> {
  const { deps, spec, schedule } = a;
  const { state, engine, clock } = deps;
  const startedAt = clock.now();
  const report: SinkReport = { sink: spec.name, outcome: 'unchanged', reason: a.reason, target: a.target, retired: [], revoked: [] };
  try {
    if (a.work === 'renew' && schedule.current) {
      const ttl = spec.ttl ?? a.status?.published?.ttl;
      const renewed = await engine.renew(schedule.current.leaseId, ttl);
      const still = scheduleSink({ spec, target: a.target, status: a.status, leases: [renewed], now: clock.now() });
      if (!still.due) {
        // Replace, not just report: consumers would drop the key at the old published expiry, long before the next renewal window: a gap.
        const refreshError = await a.sink.refresh({ leaseId: renewed.leaseId, expiration: new Date(renewed.expiresAt) }).then(
          () => undefined,
          (err: unknown) => errorMessage(err),
        );
        if (refreshError === undefined) {
          report.outcome = 'renewed';
          report.leaseId = renewed.leaseId;
          report.expiresAt = renewed.expiresAt;
          await state.setSinkStatus(spec.name, succeeded(a.status, { lastAttemptAt: startedAt, lastSuccessAt: clock.now() }));
          return report;
        }
        report.reason = `${a.reason}; renewed, but the sink still shows the old expiry (${refreshError})`;
      }
      // Else the engine capped the renewal (lease_max): replace after all.
    }
    await replace(a, report);
    await state.setSinkStatus(spec.name, succeeded(await state.getSinkStatus(spec.name), { lastAttemptAt: startedAt, lastSuccessAt: clock.now(), ...(report.error !== undefined && { lastError: report.error }) }));
  } catch (err) {
    // A run that lost its lock stops: it may not even record the failure.
    if (err instanceof LockLostError) throw err;
    report.outcome = 'failed';
    report.error = errorMessage(err);
    await recordFailure(state, spec.name, await state.getSinkStatus(spec.name), startedAt, report, attemptKey(spec, a.role));
  }
  return report;
}

/** Issue new, verify, publish new, then retire the old: the sink is never without a working credential. */
async function replace(a: ApplyArgs, report: SinkReport): Promise<void> {
  const { deps, spec, schedule } = a;
  const { state, engine, clock } = deps;
  if (!a.role) throw new UserError(`sink "${spec.name}" (${spec.source}): role ${spec.mount}/roles/${spec.role} does not exist`);

  const cred = await engine.issue({ mount: spec.mount, role: spec.role, path: defaultPathOf(a.role), ttl: spec.ttl, roleArn: spec.role_arn, sink: spec.name });
  const lease = cred.lease;
  try {
    // IAM is eventually consistent: a new key can be refused for seconds after
    // CreateAccessKey. A consumer must never be handed a key AWS still refuses.
    if (spec.verify && credentialKind(lease.credentialType)?.verifyBeforeUse) await engine.waitUntilUsable(cred, spec.mount);
    // A run whose lock was taken over while it waited must not overwrite what the new holder publishes.
    await state.ensureLocked(`publish to sink ${spec.name}`);
    await a.sink.publish(published(cred));
  } catch (err) {
    report.revoked.push(...(await discard(deps, lease)));
    throw err;
  }

  const now = clock.now();
  const previous = a.status?.published;
  const status: SinkStatus = {
    ...(await state.getSinkStatus(spec.name)),
    published: {
      leaseId: lease.leaseId,
      at: now,
      target: a.target,
      spec,
      ttl: Math.round((lease.expiresAt - lease.issuedAt) / 1000),
      role: roleFingerprint(a.role),
    },
  };
  await state.setSinkStatus(spec.name, status);
  report.outcome = schedule.current ? 'rotated' : 'issued';
  report.leaseId = lease.leaseId;
  report.expiresAt = lease.expiresAt;

  // The replaced credentials stay valid for the grace: consumers that read
  // them just before the switch keep working until they read the new one.
  for (const old of [...(schedule.current ? [schedule.current] : []), ...schedule.stray]) {
    const fresh = await state.getLease(old.leaseId); // a renewal just now may have moved its expiry
    if (!fresh) continue;
    await state.putLease({ ...fresh, revokeAt: now + spec.grace * 1000 });
    report.retired.push(old.leaseId);
  }

  // The credential moved: what was published at the old place goes.
  if (previous && previous.target !== a.target && previous.spec.deletion_policy === 'delete') {
    try {
      await a.make(previous.spec).remove();
    } catch (err) {
      report.error = `published to ${a.target}, but removing the old ${previous.target} failed: ${errorMessage(err)}`;
    }
  }
}

function published(cred: IssuedCredential) {
  return {
    accessKeyId: cred.accessKeyId,
    secretAccessKey: cred.secretAccessKey,
    sessionToken: cred.sessionToken,
    expiration: cred.expiration ?? new Date(cred.lease.expiresAt),
    leaseId: cred.lease.leaseId,
  };
}

/**
 * A credential issued for a sink that did not take it is revoked at once: no
 * live key that nobody holds. If the revoke fails too, the lease is marked due
 * now so that tidy (this run's, or the next) retries it.
 */
async function discard(deps: LifecycleDeps, lease: Lease): Promise<string[]> {
  try {
    await deps.engine.revoke(lease.leaseId);
    return [lease.leaseId];
  } catch {
    const current = await deps.state.getLease(lease.leaseId);
    if (current) await deps.state.putLease({ ...current, revokeAt: deps.clock.now() });
    return [];
  }
}

async function removeSink(
  deps: LifecycleDeps,
  make: (spec: SinkSpec) => Sink,
  name: string,
  leases: Lease[],
  previous: SinkSpec[] | undefined,
): Promise<SinkReport> {
  const { state, engine, clock } = deps;
  const now = clock.now();
  const status = await state.getSinkStatus(name);
  const spec = status?.published?.spec ?? previous?.find((s) => s.name === name);
  const report: SinkReport = { sink: name, outcome: 'removed', reason: 'removed from the repo', retired: [], revoked: [] };
  const errors: string[] = [];
  if (spec) {
    try {
      const sink = make(spec);
      report.target = sink.describe();
      if (spec.deletion_policy === 'delete') await sink.remove();
    } catch (err) {
      errors.push(errorMessage(err));
    }
  }
  // Revoked whatever happened to the target: the repo no longer grants this access.
  for (const lease of leases) {
    try {
      await engine.revoke(lease.leaseId);
      report.revoked.push(lease.leaseId);
    } catch (err) {
      errors.push(`revoke ${lease.leaseId}: ${errorMessage(err)}`);
    }
  }
  if (errors.length) {
    report.outcome = 'failed';
    report.error = errors.join('; ');
  }
  await state.setSinkStatus(name, {
    lastAttemptAt: now,
    ...(errors.length ? { lastSuccessAt: status?.lastSuccessAt, lastError: report.error, published: status?.published } : { lastSuccessAt: clock.now() }),
  });
  return report;
}
