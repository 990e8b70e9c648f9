import { mountConfig } from '../engine/deps.js';
import { beginStaticRotation, finishStaticRotation, forgetStaticRole, type StaticRoleDeps } from '../engine/static-role.js';
import { readStaticRecord, staticKeyOf, staticRotationDue, type StaticKey } from '../state/static-creds.js';
import { errorMessage, LockLostError } from '../errors.js';
import type { AppliedSnapshot, DesiredModel, SinkSpec, StaticRoleSpec } from '../model/types.js';
import { createSink, type Sink, type SinkContext } from '../sinks/index.js';
import { roleAddress } from '../schema/cross-file.js';

/**
 * Static roles in a reconcile (issue #12): each one whose rotation_period has
 * passed gets a new key, which every sink of it receives before the old key is
 * deleted; a sink that does not yet hold the current key (a new sink, a moved
 * target) receives it; a static role removed from git stops being managed.
 */

/** The engine's static role deps, and where the keys go. */
export interface StaticRolesDeps extends StaticRoleDeps {
  sinks: SinkContext;
  log: (event: StaticRoleEvent) => void;
}

export interface StaticRoleReport {
  mount: string;
  name: string;
  username: string;
  outcome: 'rotated' | 'published' | 'unchanged' | 'removed' | 'failed';
  reason?: string;
  /** The key consumers hold after this step. */
  accessKeyId?: string;
  /** Keys deleted: the replaced key, a key credops did not make that took the slot, or a removed role's keys. */
  deleted: string[];
  /** Sinks that received the key in this step. */
  published: string[];
  error?: string;
}

export type StaticRoleEvent = { kind: 'static-role'; report: StaticRoleReport };

/** The lease id a static sink records: Vault's read path of the key. */
export const staticLeaseId = (spec: Pick<StaticRoleSpec, 'mount' | 'name'>) => `${spec.mount}/static-creds/${spec.name}`;

export async function reconcileStaticRoles(deps: StaticRolesDeps, desired: DesiredModel, previous: AppliedSnapshot): Promise<StaticRoleReport[]> {
  const reports: StaticRoleReport[] = [];
  const wanted = desired.staticRoles ?? [];
  for (const spec of wanted) {
    const report = await oneStaticRole(deps, desired, spec).catch((err: unknown): StaticRoleReport => {
      if (err instanceof LockLostError) throw err;
      return { mount: spec.mount, name: spec.name, username: spec.username, outcome: 'failed', deleted: [], published: [], error: errorMessage(err) };
    });
    if (report.outcome !== 'unchanged') deps.log({ kind: 'static-role', report });
    reports.push(report);
  }
  const kept = new Set(wanted.map(roleAddress));
  for (const gone of (previous.staticRoles ?? []).filter((s) => !kept.has(roleAddress(s)))) {
    const report: StaticRoleReport = { mount: gone.mount, name: gone.name, username: gone.username, outcome: 'removed', reason: 'removed from the repo', deleted: [], published: [] };
    try {
      await deps.state.ensureLocked(`forget static role ${gone.mount}/${gone.name}`);
      const mount = desired.config.mounts[gone.mount] ?? mountConfig(previous, gone.mount);
      report.deleted = await forgetStaticRole(deps, gone, mount);
    } catch (err) {
      if (err instanceof LockLostError) throw err;
      report.outcome = 'failed';
      report.error = errorMessage(err);
    }
    deps.log({ kind: 'static-role', report });
    reports.push(report);
  }
  return reports;
}

async function oneStaticRole(deps: StaticRolesDeps, desired: DesiredModel, spec: StaticRoleSpec): Promise<StaticRoleReport> {
  const { state, clock } = deps;
  const mount = desired.config.mounts[spec.mount]!;
  const report: StaticRoleReport = { mount: spec.mount, name: spec.name, username: spec.username, outcome: 'unchanged', deleted: [], published: [] };
  const ctx: SinkContext = { ...deps.sinks, mounts: deps.sinks.mounts ?? desired.config.mounts };
  const sinks = desired.sinks.filter((s) => s.static_role && s.mount === spec.mount && s.role === spec.name).map((s) => ({ spec: s, sink: createSink(s, ctx) }));

  const record = await readStaticRecord(state, spec.mount, spec.name);
  const due = staticRotationDue(spec, record, clock.now());
  if (due) {
    report.reason = due;
    await state.ensureLocked(`rotate static role ${spec.mount}/${spec.name}`);
    const key = await beginStaticRotation(deps, spec, mount, record);
    report.deleted.push(...key.deletedForeign);
    const expiration = new Date(clock.now() + spec.rotation_period * 1000);
    // Every sink gets the new key while the old one still works; only then does the old key go.
    const failures = await publishAll(deps, spec, sinks, key, expiration, report);
    if (failures.length) {
      report.outcome = 'failed';
      report.error = `the new key ${key.accessKeyId} is made, but ${failures.join('; ')}; the old key stays until every sink holds the new one (next run)`;
      return report;
    }
    const done = await finishStaticRotation(deps, spec, mount);
    if (done.oldAccessKeyId) report.deleted.push(done.oldAccessKeyId);
    report.outcome = 'rotated';
    report.accessKeyId = done.accessKeyId;
    return report;
  }

  // Not due: a sink that does not hold the current key (new, or moved elsewhere) receives it.
  const statuses = await Promise.all(sinks.map((s) => state.getSinkStatus(s.spec.name)));
  const behind = sinks.filter((s, i) => statuses[i]?.published?.accessKeyId !== record!.access_key_id || statuses[i]?.published?.target !== s.sink.describe());
  report.accessKeyId = record!.access_key_id;
  if (!behind.length) return report;
  const current = staticKeyOf(deps.env, spec, record);
  report.reason = `sink${behind.length === 1 ? '' : 's'} ${behind.map((s) => s.spec.name).join(', ')} without the current key`;
  const failures = await publishAll(deps, spec, behind, current!, current!.expiration, report);
  report.outcome = failures.length ? 'failed' : 'published';
  if (failures.length) report.error = failures.join('; ');
  return report;
}

/** Publishes the key to each sink, recording what each holds; the failures, in words. */
async function publishAll(
  deps: StaticRolesDeps,
  spec: StaticRoleSpec,
  sinks: { spec: SinkSpec; sink: Sink }[],
  key: StaticKey,
  expiration: Date,
  report: StaticRoleReport,
): Promise<string[]> {
  const { state, clock } = deps;
  const failures: string[] = [];
  for (const { spec: sinkSpec, sink } of sinks) {
    const status = await state.getSinkStatus(sinkSpec.name);
    const target = sink.describe();
    try {
      await state.ensureLocked(`publish to sink ${sinkSpec.name}`);
      await sink.publish({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey, expiration, leaseId: staticLeaseId(spec) });
      const previous = status?.published;
      const now = clock.now();
      await state.setSinkStatus(sinkSpec.name, {
        lastAttemptAt: now,
        lastSuccessAt: now,
        published: { leaseId: staticLeaseId(spec), accessKeyId: key.accessKeyId, at: now, target, spec: sinkSpec, ttl: spec.rotation_period },
      });
      report.published.push(sinkSpec.name);
      if (previous && previous.target !== target && previous.spec.deletion_policy === 'delete') {
        await createSink(previous.spec, { ...deps.sinks }).remove().catch((err: unknown) => failures.push(`removing the old ${previous.target} of sink ${sinkSpec.name} failed: ${errorMessage(err)}`));
      }
    } catch (err) {
      if (err instanceof LockLostError) throw err;
      const error = errorMessage(err);
      failures.push(`sink ${sinkSpec.name}: ${error}`);
      await state.setSinkStatus(sinkSpec.name, { ...status, lastAttemptAt: clock.now(), lastError: error });
    }
  }
  return failures;
}
