import { formatIssueRate } from '../duration.js';
import type { IssueRate, Lease } from '../model/types.js';
import type { StateStore } from '../state/store.js';

/**
 * The caps no anchor has (Vault issue #5475): per role and per token, at most
 * `max_leases` live leases and `max_issue_rate` issuances per period.
 *
 * Each cap is a counter in the state, moved by one conditional write
 * (StateStore.addToCounter). The guarantee, across any number of replicas:
 * - a rate cap is exact: at most N issuances start in each fixed window of the
 *   period (aligned to the epoch), counting those that then fail;
 * - a live-lease cap is never exceeded by concurrent issuance: a place is taken
 *   before AWS is called and given back when the lease is revoked or the
 *   issuance fails. A process killed in between leaves its place taken (the cap
 *   errs on the side of refusing) until the reconciling replica counts the
 *   role's leases again (recountRoleCaps).
 */

export interface CapSpec {
  /** `role aws/dev-app`, `token AbCd…`: what the 429 names. */
  what: string;
  /** Counter key prefix: `role/aws/dev-app`, `token/ACCESSOR`. */
  key: string;
  maxLeases?: number;
  rate?: IssueRate;
}

export type Reservation = { ok: true; counters: string[]; release(): Promise<void> } | { ok: false; reason: string };

const cleaned = new Map<string, number>();

export async function reserve(state: StateStore, caps: readonly CapSpec[], now: number): Promise<Reservation> {
  const taken: string[] = [];
  const release = async () => {
    for (const key of taken) await state.addToCounter(key, -1, { min: 0 });
  };
  for (const cap of caps) {
    if (cap.rate) {
      const period = cap.rate.periodSeconds * 1000;
      const window = Math.floor(now / period);
      const key = `${cap.key}/rate/${window}`;
      // Kept one period past its window, so a late replica never restarts a window's count.
      if (!(await state.addToCounter(key, 1, { max: cap.rate.count, expiresAt: (window + 2) * period }))) {
        await release();
        return { ok: false, reason: `${cap.what} reached its max_issue_rate of ${formatIssueRate(cap.rate)}; try again in ${Math.ceil(((window + 1) * period - now) / 1000)}s` };
      }
      // The window's issuances are spent whatever happens to them: not given back. The first
      // issuance of a window (in this process) deletes the counter of the window before the last.
      if (cleaned.get(cap.key) !== window) {
        cleaned.set(cap.key, window);
        await state.deleteCounter(`${cap.key}/rate/${window - 2}`).catch(() => undefined);
      }
    }
    if (cap.maxLeases !== undefined) {
      const key = liveKey(cap.key);
      if (!(await state.addToCounter(key, 1, { max: cap.maxLeases }))) {
        await release();
        return { ok: false, reason: `${cap.what} reached its max_leases of ${cap.maxLeases} live leases; revoke one or wait for one to expire` };
      }
      taken.push(key);
    }
  }
  return { ok: true, counters: [...taken], release };
}

export function liveKey(prefix: string): string {
  return `${prefix}/live`;
}

/**
 * Counts a capped role's live leases again and sets its counter, unless an
 * issuance moved it meanwhile (the conditional write fails, and the next
 * pass tries again). What a crash between reserve and revoke left taken is
 * given back here.
 */
export async function recountRoleCaps(state: StateStore, roles: readonly { mount: string; name: string; max_leases?: number }[]): Promise<number> {
  let fixed = 0;
  const capped = roles.filter((r) => r.max_leases !== undefined);
  const journal = capped.length ? await state.listJournal() : [];
  for (const role of capped) {
    const key = liveKey(`role/${role.mount}/${role.name}`);
    const before = await state.getCounter(key);
    const leases = [
      ...(await state.listLeases({ prefix: `${role.mount}/creds/${role.name}/` })),
      ...(await state.listLeases({ prefix: `${role.mount}/sts/${role.name}/` })),
    ];
    const held = leases.filter((l: Lease) => l.counters?.includes(key)).length;
    const inFlight = journal.filter((e) => e.mount === role.mount && e.role === role.name && e.liveUntil !== undefined).length;
    const actual = held + inFlight;
    if (actual !== before && (await state.setCounter(key, actual, before))) fixed++;
  }
  return fixed;
}
