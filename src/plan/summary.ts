import type { Plan } from '../model/types.js';

/** Terraform's words: `Plan: 1 to add, 2 to change, 0 to destroy.` */
export function summaryLine(plan: Plan): string {
  const { add, change, destroy } = plan.summary;
  if (!planHasChanges(plan)) return `No changes. The state matches the repo at ${plan.commit}.`;
  return `Plan: ${add} to add, ${change} to change, ${destroy} to destroy.`;
}

export function planHasChanges(plan: Plan): boolean {
  return (plan.mounts?.length ?? 0) + plan.roles.length + plan.sinks.length > 0;
}
