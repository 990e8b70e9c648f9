import type { DriftItem, Plan, SinkWork } from '../model/types.js';
import { formatDuration } from '../duration.js';
import { compareStrings } from './normalise.js';

/** The drift of one lease, for the text and markdown renderers. */
export interface DriftBlock {
  leaseId: string;
  sink?: string;
  items: DriftItem[];
}

/** Drift grouped by lease, in a stable order: lease id, then kind and detail. */
export function driftBlocks(plan: Plan): DriftBlock[] {
  const byLease = new Map<string, DriftBlock>();
  for (const item of sortDrift(plan.drift ?? [])) {
    const block = byLease.get(item.leaseId) ?? { leaseId: item.leaseId, ...(item.sink ? { sink: item.sink } : {}), items: [] };
    block.items.push(item);
    byLease.set(item.leaseId, block);
  }
  return [...byLease.values()];
}

export function sortDrift(items: DriftItem[]): DriftItem[] {
  return [...items].sort((a, b) => compareStrings(a.leaseId, b.leaseId) || compareStrings(a.kind, b.kind) || compareStrings(a.detail, b.detail));
}

/** `lease aws/creds/deploy/abc (sink ci-deploy)` */
export function driftTitle(block: DriftBlock): string {
  return `lease ${block.leaseId}${block.sink ? ` (sink ${block.sink})` : ''}`;
}

export const DRIFT_HEADING = 'Changes outside credops';
export const DRIFT_INTRO = 'credops reconcile repairs these: a lease whose user or key is gone or disabled is revoked (its sink gets a new credential); changed permissions are put back; a sink target another state took over is taken back.';

export const SINK_WORK_HEADING = 'Sink credentials due (reconcile issues them now, though no file changed):';

/** `+ sink ci: issue (its lease is gone)`, sorted by sink. */
export function sinkWorkLines(plan: Plan): { marker: '+' | '~'; text: string }[] {
  return [...(plan.sinkWork ?? [])]
    .sort((a, b) => compareStrings(a.sink, b.sink))
    .map((w: SinkWork) => ({ marker: w.work === 'issue' ? '+' : '~', text: `sink ${w.sink}: ${w.work} (${w.reason})` }));
}

export const STATIC_HEADING = 'Static roles (key rotation):';

/** `~ static role aws/vendor (user vendor-bot): rotates now (rotation_period passed)`, or its next rotation. */
export function staticRotationLines(plan: Plan, now = Date.now()): { marker: '~' | ' '; text: string }[] {
  return [...(plan.staticRotations ?? [])]
    .sort((a, b) => compareStrings(a.mount, b.mount) || compareStrings(a.name, b.name))
    .map((r) => {
      const what = `static role ${r.mount}/${r.name} (user ${r.username})`;
      if (r.due !== undefined) return { marker: '~', text: `${what}: rotates now (${r.due})` };
      const at = new Date(r.at ?? 0).toISOString().replace(/\.\d{3}Z$/, 'Z');
      return { marker: ' ', text: `${what}: next rotation ${at} (in ${formatDuration(Math.max(0, Math.round(((r.at ?? 0) - now) / 1000)))})` };
    });
}
