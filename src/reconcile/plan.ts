import type { Diagnostic } from '../errors.js';
import type { AppliedSnapshot, DesiredModel, Lease, Plan, SinkWork } from '../model/types.js';
import { makePlan } from '../plan/index.js';
import { describeSink, type SinkContext } from '../sinks/index.js';
import type { SinkStatus, StateStore } from '../state/store.js';
import { roleFingerprint, scheduleSink } from './schedule.js';
import { staticRotations } from './static-schedule.js';

/**
 * Makes the plan for the desired model against the state, with the sink
 * credentials due now (`sinkWork`): what reconcile would issue, renew or replace
 * although no file changed. Reads the state only; `sinks` lets it name targets
 * exactly as the lifecycle will (no AWS call).
 */
export async function planAgainstState(
  state: StateStore,
  desired: DesiredModel,
  warnings: Diagnostic[] = [],
  opts: { sinks?: SinkContext; now?: number; applied?: AppliedSnapshot } = {},
): Promise<Plan> {
  // Two reads of the state, whatever its size: the applied snapshot (unless the caller read it already), then the leases with the sink statuses.
  const applied = opts.applied ?? (await state.getApplied());
  const { leases, sinkStatus } = await state.listLeasesAndSinkStatus();
  const plan = makePlan(desired, applied, leases, warnings);
  const statics = desired.staticRoles?.length ? { staticRotations: await staticRotations(state, desired, opts.now ?? Date.now()) } : {};
  return { ...plan, sinkWork: sinkWorkDue(sinkStatus, desired, plan, leases, opts), ...statics };
}

function sinkWorkDue(statuses: Record<string, SinkStatus>, desired: DesiredModel, plan: Plan, leases: Lease[], opts: { sinks?: SinkContext; now?: number }): SinkWork[] {
  // What the plan's changes already say (a new sink, a rotation by a sink or role change) is not repeated.
  const shown = new Set([...plan.sinks.filter((s) => s.action !== 'update' || s.rotate).map((s) => s.name), ...plan.roles.flatMap((r) => r.sinksToRotate)]);
  const now = opts.now ?? Date.now();
  const ctx = opts.sinks && { ...opts.sinks, mounts: desired.config.mounts };
  const work: SinkWork[] = [];
  for (const spec of desired.sinks) {
    if (shown.has(spec.name) || spec.static_role) continue;
    const status = statuses[spec.name];
    const role = desired.roles.find((r) => r.mount === spec.mount && r.name === spec.role);
    const target = (ctx && describeSink(spec, ctx)) ?? status?.published?.target ?? '';
    const { due } = scheduleSink({ spec, target, status, leases: leases.filter((l) => l.sink === spec.name), role: role && roleFingerprint(role), now });
    if (due) work.push({ sink: spec.name, work: due.work, reason: due.reason });
  }
  return work;
}

