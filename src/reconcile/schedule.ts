import type { Lease, RoleSpec, SinkSpec } from '../model/types.js';
import { ROLE_FIELDS, ROLE_FIELDS_THAT_ROTATE, SINK_FIELDS, sinkFieldRotates } from '../plan/fields.js';
import { canonicalJson } from '../plan/normalise.js';
import type { SinkStatus } from '../state/store.js';

/**
 * Where a sink stands (pure): what the lifecycle must do now, and when next.
 * Shared by the lifecycle, the plan's sink work, `status` and `watch`, and kept
 * apart from them so that reading it loads no AWS SDK.
 */

export type NextAction = 'issue' | 'renew' | 'rotate' | 'revoke-old' | 'none';

/** Where a sink stands at `now`: pure, shared by the lifecycle, `status` and `watch`. */
export interface SinkSchedule {
  /** The lease whose credential the sink holds. */
  current?: Lease;
  /** Replaced leases waiting for their grace to end (tidy revokes them). */
  retiring: Lease[];
  /** Live leases of the sink that it does not hold (a run stopped between issue and publish). */
  stray: Lease[];
  /** What the sink needs now: issue, renew or rotate; or none. */
  due: { work: 'issue' | 'renew' | 'rotate'; reason: string } | undefined;
  /** The next thing that will happen to this sink, and when (epoch ms; now or earlier means due). */
  next: { action: NextAction; at?: number };
  /** Seconds before expiry at which the current credential is renewed or replaced. */
  renewBefore?: number;
}

const DEFAULT_RENEW_FRACTION = 3;

/** The role fields a credential carries, canonical: a change means credentials issued before are stale. */
export function roleFingerprint(role: RoleSpec): string {
  const fields = ROLE_FIELDS.filter((f) => ROLE_FIELDS_THAT_ROTATE.has(f.name)).map((f) => [f.name, f.get(role)]);
  return canonicalJson(Object.fromEntries(fields))!;
}

/** The first sink field whose change needs a new credential (the plan's `rotate`), or undefined. */
export function rotatingChange(before: SinkSpec, after: SinkSpec): string | undefined {
  for (const f of SINK_FIELDS) if (sinkFieldRotates(f.name) && canonicalJson(f.get(before)) !== canonicalJson(f.get(after))) return f.name;
  return canonicalJson(before.config) !== canonicalJson(after.config) ? 'config' : undefined;
}

export function scheduleSink(args: {
  spec: SinkSpec;
  /** The sink's describe() now. */
  target: string;
  status: SinkStatus | undefined;
  /** The sink's leases in the state. */
  leases: Lease[];
  /** roleFingerprint of the sink's role as the repo has it now. */
  role?: string;
  now: number;
}): SinkSchedule {
  const { spec, target, status, leases, now } = args;
  const published = status?.published;
  const live = leases.filter((l) => l.expiresAt > now);
  const retiring = live.filter((l) => l.revokeAt !== undefined);
  const current = live.find((l) => l.revokeAt === undefined && l.leaseId === published?.leaseId);
  const stray = live.filter((l) => l.revokeAt === undefined && l !== current);
  const revokeOldAt = retiring.length ? Math.min(...retiring.map((l) => Math.min(l.revokeAt!, l.expiresAt))) : undefined;
  const soonest = (action: NextAction, at: number) =>
    revokeOldAt !== undefined && revokeOldAt < at ? { action: 'revoke-old' as const, at: revokeOldAt } : { action, at };

  if (!current || !published) {
    return { retiring, stray, due: { work: 'issue', reason: published ? 'its lease is gone' : 'new sink' }, next: { action: 'issue', at: now } };
  }
  const changed =
    rotatingChange(published.spec, spec) ??
    (published.target !== target ? 'target' : undefined) ??
    (args.role !== undefined && published.role !== undefined && published.role !== args.role ? 'role policy' : undefined);

  const ttl = spec.ttl ?? published.ttl;
  const renewBefore = spec.renew_before ?? Math.floor(ttl / DEFAULT_RENEW_FRACTION);
  const renewAt = current.expiresAt - renewBefore * 1000;
  const base = { current, retiring, stray, renewBefore };
  if (changed) return { ...base, due: { work: 'rotate', reason: `${changed} changed` }, next: { action: 'rotate', at: now } };

  // A renewal is worth it only if it takes the lease out of the renewal window;
  // near lease_max it cannot, and the credential is replaced instead.
  const when = Math.max(now, renewAt);
  const renewedUntil = Math.min(when + ttl * 1000, current.maxExpiresAt);
  const work = current.renewable && renewedUntil - when > renewBefore * 1000 ? 'renew' : 'rotate';
  if (now >= renewAt) {
    return { ...base, due: { work, reason: `expires in ${Math.max(0, Math.round((current.expiresAt - now) / 1000))}s` }, next: { action: work, at: renewAt } };
  }
  return { ...base, due: undefined, next: soonest(work, renewAt) };
}

