import type { AwsClients } from '../aws/clients.js';
import type { Clock } from '../clock.js';
import type { LeaseDrift } from '../engine/drift.js';
import { errorMessage, UserError } from '../errors.js';
import { mountConfig, type Engine } from '../engine/index.js';
import { ROLLBACK_MIN_AGE_MS } from '../engine/journal.js';
import { forEachBounded } from '../engine/pool.js';
import { credentialKind } from '../engine/registry.js';
import type { AppliedSnapshot, DriftItem, Lease, Plan, RoleSpec } from '../model/types.js';
import { createSink, type SinkContext } from '../sinks/index.js';
import type { StateStore } from '../state/store.js';
import { roleFingerprint } from './lifecycle.js';

/**
 * Drift (Terraform's refresh): each live lease whose credential type leaves
 * something in AWS (an iam_user's user, key, policies and groups) is checked
 * against AWS, read-only, by its credential kind (src/engine/drift.ts). STS
 * leases have nothing in AWS to check. `plan --refresh` shows what differs;
 * reconcile repairs it (below).
 */

/** Users checked at once: hides IAM's latency without provoking its throttling (as the engine's revocations). */
export const DRIFT_CHECK_CONCURRENCY = 8;

/**
 * IAM is eventually consistent: a user or key created moments ago can answer
 * NoSuchEntity, and a policy just put can read back as the previous one. A
 * lease younger than this is not checked, or a credential just issued would be
 * taken for deleted and revoked. The same five minutes as journal recovery.
 */
export const DRIFT_MIN_AGE_MS = ROLLBACK_MIN_AGE_MS;

export interface DriftReport {
  drifted: LeaseDrift[];
  /** Leases checked against AWS. */
  checked: number;
  /** Live leases not checked: STS ones, and iam_user ones younger than DRIFT_MIN_AGE_MS. */
  skipped: number;
  failed: { leaseId: string; error: string }[];
}

export interface DriftDeps {
  state: StateStore;
  clients: AwsClients;
  clock: Clock;
  /** To read who owns each sink's target; without it, sink targets are not checked. */
  sinks?: SinkContext;
  concurrency?: number;
}

export async function detectDrift(deps: DriftDeps): Promise<DriftReport> {
  const { state, clients, clock } = deps;
  const now = clock.now();
  const [applied, leases] = await Promise.all([state.getApplied(), state.listLeases()]);
  const live = leases.filter((l) => l.expiresAt > now).sort((a, b) => a.leaseId.localeCompare(b.leaseId));
  const due = live.filter((l) => credentialKind(l.credentialType)?.drift && now - l.issuedAt >= DRIFT_MIN_AGE_MS);
  const report: DriftReport = { drifted: [], checked: due.length, skipped: live.length - due.length, failed: [] };

  const found: (LeaseDrift | undefined)[] = [];
  await forEachBounded(due, deps.concurrency ?? DRIFT_CHECK_CONCURRENCY, async (lease, index) => {
    try {
      const role = applied.roles.find((r) => r.mount === lease.mount && r.name === lease.role);
      const expected = role?.policy_document && (await policyIsKnown(state, applied, lease, role)) ? role.policy_document : undefined;
      const kind = credentialKind(lease.credentialType)!;
      found[index] = await kind.drift!.check({ lease, mount: mountConfig(applied, lease.mount), clients, ...(role && { role }), ...(expected && { expected }) });
    } catch (err) {
      report.failed.push({ leaseId: lease.leaseId, error: errorMessage(err) });
    }
  });
  report.drifted = found.filter((d): d is LeaseDrift => d !== undefined);
  if (deps.sinks) report.drifted.push(...(await takenOverSinks(state, deps.sinks, applied, report)));
  return report;
}

/**
 * A sink's target that now records another credops state as its owner (that
 * state published there, with `adopt`): the consumers no longer get this
 * state's credential. One read per sink (DescribeSecret, or the file), no secret.
 */
async function takenOverSinks(state: StateStore, ctx: SinkContext, applied: AppliedSnapshot, report: DriftReport): Promise<LeaseDrift[]> {
  const out: LeaseDrift[] = [];
  const mounts = Object.fromEntries(applied.mounts.map((m) => [m.name, m]));
  for (const spec of applied.sinks) {
    const published = (await state.getSinkStatus(spec.name))?.published;
    const lease = published && (await state.getLease(published.leaseId));
    if (!lease) continue;
    try {
      const owner = await createSink(spec, { ...ctx, mounts }).owner();
      if (owner?.stateId === undefined || owner.stateId === state.id) continue;
      const detail = `${published.target} was taken over by credops state ${owner.stateId}${owner.leaseId ? ` (its lease ${owner.leaseId})` : ''}`;
      out.push({ lease, items: [{ leaseId: lease.leaseId, sink: spec.name, kind: 'sink_taken_over', detail }], repair: { action: 'take-back', sink: spec.name } });
    } catch (err) {
      report.failed.push({ leaseId: lease.leaseId, error: errorMessage(err) });
    }
  }
  return out;
}

export function driftItems(report: DriftReport): DriftItem[] {
  return report.drifted.flatMap((d) => d.items);
}

/** The plan with what `detectDrift` found; a lease that could not be checked fails the plan, as a failed refresh fails Terraform's. */
export async function refreshPlan(plan: Plan, deps: DriftDeps): Promise<Plan> {
  const report = await detectDrift(deps);
  if (report.failed.length) {
    const [first] = report.failed;
    throw new UserError(`checking ${report.failed.length} lease${report.failed.length === 1 ? '' : 's'} for drift failed; first, ${first!.leaseId}: ${first!.error}`);
  }
  return { ...plan, drift: driftItems(report) };
}

/**
 * The inline policy document a lease was issued with is not recorded, only
 * its role's. It is compared with the role only when the role cannot have
 * changed since the lease was issued: the lease is younger than the last apply,
 * or it is the credential its sink holds and the sink recorded the same role
 * fingerprint. Otherwise a role changed in git would look like drift, and
 * "repairing" it would write to AWS on every reconcile of the same commit.
 */
async function policyIsKnown(state: StateStore, applied: AppliedSnapshot, lease: Lease, role: RoleSpec): Promise<boolean> {
  if (applied.appliedAt !== undefined && lease.issuedAt >= applied.appliedAt) return true;
  if (!lease.sink) return false;
  const published = (await state.getSinkStatus(lease.sink))?.published;
  return published?.leaseId === lease.leaseId && published.role === roleFingerprint(role);
}

// ---- repair (reconcile) ------------------------------------------------------

export type DriftEvent =
  | { kind: 'revoke'; leaseId: string; reason: string; done: number; total: number; error?: string }
  | { kind: 'repair'; leaseId: string; detail: string; done: number; total: number; error?: string };

export interface RepairDeps {
  state: StateStore;
  clients: AwsClients;
  engine: Pick<Engine, 'revoke' | 'audit'>;
  log: (event: DriftEvent) => void;
}

export interface RepairResult {
  /** Leases revoked because their user or key was gone or disabled. */
  revoked: string[];
  /** Leases whose user was put back as recorded. */
  restored: string[];
  failed: { leaseId: string; error: string }[];
  /** Sinks whose target another state took over: this run publishes to them again (adopting them back). */
  takeBack: string[];
}

/**
 * Repairs what credops owns, one lease at a time. A dead credential is revoked
 * through the engine (NoSuchEntity counts as done), which drops the lease from
 * the state: the sink lifecycle that runs next finds its sink without a live
 * lease and publishes a fresh one. Changed permissions are put back as the
 * lease recorded them, with the role's policy_document.
 */
export async function repairDrift(deps: RepairDeps, drifted: LeaseDrift[]): Promise<RepairResult> {
  const result: RepairResult = { revoked: [], restored: [], failed: [], takeBack: [] };
  const applied = await deps.state.getApplied();
  let done = 0;
  for (const d of drifted) {
    done++;
    const { leaseId } = d.lease;
    const what = d.items.map((i) => i.detail).join('; ');
    try {
      if (d.repair.action === 'revoke' || d.repair.action === 'take-back') {
        await deps.engine.revoke(leaseId);
        result.revoked.push(leaseId);
        if (d.repair.action === 'take-back') result.takeBack.push(d.repair.sink);
        deps.log({ kind: 'revoke', leaseId, reason: `drift: ${what}`, done, total: drifted.length });
      } else {
        const audited = { operation: 'repair' as const, mount: d.lease.mount, role: d.lease.role, lease_id: leaseId, details: { drift: what } };
        try {
          const kind = credentialKind(d.lease.credentialType)!;
          await kind.drift!.restore({ lease: d.lease, mount: mountConfig(applied, d.lease.mount), clients: deps.clients }, d.repair.steps);
        } catch (err) {
          deps.engine.audit.record({ ...audited, outcome: 'error', error: errorMessage(err) });
          throw err;
        }
        deps.engine.audit.record({ ...audited, outcome: 'ok' });
        result.restored.push(leaseId);
        deps.log({ kind: 'repair', leaseId, detail: what, done, total: drifted.length });
      }
    } catch (err) {
      const error = errorMessage(err);
      result.failed.push({ leaseId, error });
      deps.log(
        d.repair.action !== 'restore'
          ? { kind: 'revoke', leaseId, reason: `drift: ${what}`, done, total: drifted.length, error }
          : { kind: 'repair', leaseId, detail: what, done, total: drifted.length, error },
      );
    }
  }
  return result;
}
