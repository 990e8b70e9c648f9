import type { AwsClients } from '../aws/clients.js';
import type { Diagnostic } from '../errors.js';
import type { DesiredModel, DriftItem, Plan } from '../model/types.js';
import { planHasChanges } from '../plan/index.js';
import type { StateStore } from '../state/store.js';
import { roleAddress } from '../schema/cross-file.js';
import type { Engine } from '../engine/index.js';
import { rotateRootsIfDue } from '../engine/root.js';
import type { AuditLog } from '../audit.js';
import { errorMessage, UserError } from '../errors.js';
import type { Clock } from '../clock.js';
import type { SinkContext } from '../sinks/index.js';
import { reconcileSinks, type SinkEvent, type SinkReport } from './lifecycle.js';
import { planAgainstState } from './plan.js';
import { reconcileStaticRoles, type StaticRoleEvent, type StaticRoleReport } from './static-roles.js';

export { planAgainstState } from './plan.js';
import { detectDrift, driftItems, repairDrift, type DriftEvent } from './drift.js';

export interface ReconcileDeps {
  state: StateStore;
  engine: Engine;
  /** AWS clients for the drift check and repair (the same set the engine and sinks use). */
  clients: AwsClients;
  /** What sinks need to reach their targets (AWS clients, the working directory). */
  sinks: SinkContext;
  clock: Clock;
  /** Progress and one line per action; never receives a secret. */
  log: (event: ReconcileEvent) => void;
  /** With both, root keys due by their mount's rotation_period or rotation_schedule are rotated (engine/root.ts). */
  env?: NodeJS.ProcessEnv;
  audit?: AuditLog;
}

export type ReconcileEvent =
  | { kind: 'recovered'; rolledBack: number; completed: number }
  | { kind: 'applied'; commit: string; add: number; change: number; destroy: number }
  | { kind: 'revoke'; leaseId: string; reason: string; done: number; total: number; error?: string }
  | { kind: 'no-changes'; commit: string }
  | { kind: 'root-rotated'; mount: string; accessKeyId?: string; oldAccessKeyId?: string; error?: string }
  | DriftEvent
  | SinkEvent
  | StaticRoleEvent;

export interface ReconcileResult {
  plan: Plan;
  applied: boolean;
  /** One per sink of the repo, and per sink removed from it. */
  sinks: SinkReport[];
  /** One per static role of the repo, and per static role removed from it. */
  staticRoles?: StaticRoleReport[];
  /** Every lease revoked: of removed roles and sinks, publishes that failed, and expired or retired ones. */
  revoked: string[];
  failed: { leaseId: string; error: string }[];
  /** What the refresh found changed outside credops (all of it repaired unless listed in failed); absent without refresh. */
  drift?: DriftItem[];
}

export interface ReconcileOptions {
  /** Apply exactly this saved plan; refused if the repo commit or the state moved since it was made. */
  saved?: Plan;
  warnings?: Diagnostic[];
  /**
   * Check live leases against AWS and repair drift before applying (default
   * true, as Terraform refreshes on apply). Costs reads only; a second run on
   * the same commit finds nothing and writes nothing.
   */
  refresh?: boolean;
}

/**
 * Applies the repo to the state, then does the AWS work the change implies.
 * Order (DESIGN "Flow"): roles, then sinks, then revocations. The caller holds
 * the state lock. With `saved`, applies exactly that plan, refused if the repo
 * commit or the state moved since it was made.
 */
export async function reconcile(deps: ReconcileDeps, desired: DesiredModel, opts: ReconcileOptions = {}): Promise<ReconcileResult> {
  const { state, engine, log } = deps;
  const recovered = await engine.recover();
  if (recovered.rolledBack || recovered.completed) log({ kind: 'recovered', ...recovered });

  const plan = await planAgainstState(state, desired, opts.warnings, { sinks: deps.sinks, now: deps.clock.now() });
  if (opts.saved) assertSavedPlanStillValid(opts.saved, plan);

  // Drift is judged against the state as the leases were issued, before this
  // apply; a lease dropped here leaves its sink without one, so the sink
  // lifecycle below issues it a fresh credential in this same run.
  const failed: { leaseId: string; error: string }[] = [];
  const repairedRevoked: string[] = [];
  let drift: DriftItem[] | undefined;
  let sinkContext = deps.sinks;
  if (opts.refresh !== false) {
    const report = await detectDrift({ state, clients: deps.clients, clock: deps.clock, sinks: deps.sinks });
    drift = driftItems(report);
    const repaired = await repairDrift({ state, clients: deps.clients, engine, log }, report.drifted);
    repairedRevoked.push(...repaired.revoked);
    failed.push(...report.failed, ...repaired.failed);
    if (repaired.takeBack.length) sinkContext = { ...deps.sinks, adopt: new Set([...(deps.sinks.adopt ?? []), ...repaired.takeBack]) };
  }

  const applied = await state.getApplied();
  let appliedNow = false;
  if (planHasChanges(plan) || applied.commit !== desired.commit) {
    await state.apply({
      commit: desired.commit,
      roles: desired.roles,
      staticRoles: desired.staticRoles ?? [],
      sinks: desired.sinks,
      mounts: Object.values(desired.config.mounts),
      ...(desired.access && { access: desired.access }),
      expectSerial: plan.state.serial,
    });
    appliedNow = planHasChanges(plan);
    log({ kind: 'applied', commit: desired.commit, ...plan.summary });
  } else {
    log({ kind: 'no-changes', commit: desired.commit });
  }

  const sinks = await reconcileSinks({ state, engine, sinks: sinkContext, clock: deps.clock, log }, desired, { previous: applied.sinks });
  const revoked: string[] = [...repairedRevoked, ...sinks.flatMap((s) => s.revoked)];
  const statics = await reconcileStaticRoles({ state, clients: deps.clients, clock: deps.clock, env: deps.env ?? process.env, sinks: sinkContext, log }, desired, applied);

  // A role removed from git takes its leases with it (Vault leaves them: its issue #1243), and so
  // does any lease of a role the repo no longer has (one a server replica issued from its copy
  // of the applied roles in the seconds after the role was removed).
  // A lease in its grace (replaced for a sink) is left for tidy to revoke when the grace ends.
  const known = new Set(desired.roles.map(roleAddress));
  const now = deps.clock.now();
  const orphaned = (await state.listLeases()).filter((l) => !known.has(roleAddress({ mount: l.mount, name: l.role })) && !(l.revokeAt !== undefined && l.revokeAt > now));
  let done = 0;
  for (const lease of orphaned) {
    done++;
    try {
      await engine.revoke(lease.leaseId);
      revoked.push(lease.leaseId);
      log({ kind: 'revoke', leaseId: lease.leaseId, reason: 'role removed', done, total: orphaned.length });
    } catch (err) {
      const error = errorMessage(err);
      failed.push({ leaseId: lease.leaseId, error });
      log({ kind: 'revoke', leaseId: lease.leaseId, reason: 'role removed', done, total: orphaned.length, error });
    }
  }

  const expired = await engine.tidy({
    onProgress: (n, total, leaseId) => log({ kind: 'revoke', leaseId, reason: 'expired', done: n, total }),
  });
  revoked.push(...expired.revoked);
  failed.push(...expired.failed);

  if (deps.env && deps.audit) {
    const roots = await rotateRootsIfDue({ state, clients: deps.clients, clock: deps.clock, audit: deps.audit, env: deps.env }, Object.values(desired.config.mounts));
    for (const r of roots.rotated) log({ kind: 'root-rotated', mount: r.mount, accessKeyId: r.accessKeyId, oldAccessKeyId: r.oldAccessKeyId });
    for (const f of roots.failed) {
      log({ kind: 'root-rotated', mount: f.mount, error: f.error });
      failed.push({ leaseId: `${f.mount}/config/root`, error: f.error });
    }
  }
  return { plan, applied: appliedNow, sinks, staticRoles: statics, revoked, failed, ...(drift && { drift }) };
}

/** Terraform's saved-plan rule: a plan applies only to the commit and state it was made against. */
export function assertSavedPlanStillValid(saved: Plan, current: Plan): void {
  if (saved.commit !== current.commit) {
    throw new UserError(`saved plan was made for commit ${saved.commit}, but the repo is now at ${current.commit}; run credops plan again`);
  }
  if (saved.state.serial !== current.state.serial) {
    throw new UserError(
      `saved plan is stale: the state changed since it was made (serial ${saved.state.serial} -> ${current.state.serial}, ` +
        `applied commit ${saved.state.commit ?? 'none'} -> ${current.state.commit ?? 'none'}); run credops plan again`,
    );
  }
}
