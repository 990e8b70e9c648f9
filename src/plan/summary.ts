import type { Plan } from '../model/types.js';

/** Terraform's words: `Plan: 1 to add, 2 to change, 0 to destroy.`, then the drift `plan --refresh` found, if any. */
export function summaryLine(plan: Plan): string {
  const { add, change, destroy } = plan.summary;
  const base = planHasChanges(plan) ? `Plan: ${add} to add, ${change} to change, ${destroy} to destroy.` : `No changes. The state matches the repo at ${plan.commit}.`;
  return [base, planHasWork(plan) && workLine(plan), planHasDrift(plan) && driftLine(plan)].filter(Boolean).join(' ');
}

/** Sink credentials due now: reconcile issues, renews or replaces them, so `--detailed-exitcode` counts them. */
export function planHasWork(plan: Plan): boolean {
  return (plan.sinkWork?.length ?? 0) > 0 || (plan.staticRotations ?? []).some((r) => r.due !== undefined);
}

function workLine(plan: Plan): string {
  const count = (work: string) => (plan.sinkWork ?? []).filter((w) => w.work === work).length;
  const parts = [['issue', 'to issue'], ['rotate', 'to replace'], ['renew', 'to renew']].filter(([w]) => count(w!) > 0).map(([w, what]) => `${count(w!)} ${what}`);
  const statics = (plan.staticRotations ?? []).filter((r) => r.due !== undefined).length;
  return [parts.length && `Sink credentials: ${parts.join(', ')}.`, statics && `Static role keys: ${statics} to rotate.`].filter(Boolean).join(' ');
}

export function planHasChanges(plan: Plan): boolean {
  return (plan.mounts?.length ?? 0) + plan.roles.length + (plan.staticRoles?.length ?? 0) + plan.sinks.length + (plan.access?.length ?? 0) > 0;
}

/** Leases changed outside credops (`plan --refresh`): reconcile repairs them, so `--detailed-exitcode` counts them. */
export function planHasDrift(plan: Plan): boolean {
  return (plan.drift?.length ?? 0) > 0;
}

function driftLine(plan: Plan): string {
  const leases = new Set((plan.drift ?? []).map((d) => d.leaseId)).size;
  return `Drift: ${leases} ${leases === 1 ? 'lease has' : 'leases have'} changed outside credops; reconcile repairs ${leases === 1 ? 'it' : 'them'}.`;
}
