import { Option, type Command } from 'commander';
import { systemClock } from '../clock.js';
import { formatDuration } from '../duration.js';
import type { Lease } from '../model/types.js';
import { roleFingerprint, scheduleSink, type NextAction } from '../reconcile/schedule.js';
import { describeSink, type SinkContext } from '../sinks/index.js';
import type { SinkStatus, StateStore } from '../state/store.js';
import { withState, type Run } from './runtime.js';
import { nextStaticRotation, readStaticRecord } from '../state/static-creds.js';

interface StatusOptions {
  format: 'table' | 'json';
}

/** One sink as `credops status` shows it. Times are epoch ms. */
export interface SinkStatusRow {
  name: string;
  mount?: string;
  role?: string;
  type?: string;
  target?: string;
  leaseId?: string;
  issuedAt?: number;
  expiresAt?: number;
  nextAction: NextAction | 'remove';
  nextAt?: number;
  /** Replaced leases still valid until their grace ends. */
  retiring: { leaseId: string; revokeAt: number }[];
  lastSuccessAt?: number;
  lastError?: string;
  /** Failed attempts in a row, and when the next one is made (the sink's backoff). */
  failures?: number;
  nextAttemptAt?: number;
}

export function registerStatus(program: Command, run: Run): void {
  program
    .command('status')
    .description('per sink: role, lease, issued, expires, next action and when, last error (reads the state only)')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .action(async (opts: StatusOptions, cmd: Command) => {
      const now = systemClock.now();
      // Reads the state only: no AWS call, and no AWS SDK loaded.
      const rows = await withState(cmd, run, (state) => sinkStatusRows(state, { cwd: run.io.cwd, home: run.io.env.HOME, stateId: state.id }, now), { readOnly: true });
      run.io.stdout(opts.format === 'json' ? `${JSON.stringify({ sinks: rows.map(rowJson) }, null, 2)}\n` : renderTable(rows, now));
    });
}

/** What the state says of every applied sink, and of sinks removed from the repo whose leases are still live. */
export async function sinkStatusRows(state: StateStore, ctx: SinkContext, now: number): Promise<SinkStatusRow[]> {
  const [applied, leases] = await Promise.all([state.getApplied(), state.listLeases()]);
  const mounts = Object.fromEntries(applied.mounts.map((m) => [m.name, m]));
  const rows: SinkStatusRow[] = [];
  for (const spec of applied.sinks) {
    const status = await state.getSinkStatus(spec.name);
    if (spec.static_role) {
      // A static role's key has no lease: it is replaced at the static role's next rotation.
      const staticRole = applied.staticRoles?.find((r) => r.mount === spec.mount && r.name === spec.role);
      const next = staticRole ? nextStaticRotation(staticRole, await readStaticRecord(state, spec.mount, spec.role)) : 0;
      rows.push({
        ...base(spec.name, status, []),
        mount: spec.mount,
        role: `static-roles/${spec.role}`,
        type: spec.type,
        target: status?.published?.target,
        leaseId: status?.published?.leaseId,
        issuedAt: status?.published?.at,
        nextAction: status?.published?.accessKeyId ? 'rotate' : 'issue',
        nextAt: Math.max(next, status?.nextAttemptAt ?? 0) || now,
      });
      continue;
    }
    const role = applied.roles.find((r) => r.mount === spec.mount && r.name === spec.role);
    const schedule = scheduleSink({
      spec,
      target: describeSink(spec, { ...ctx, mounts }) ?? status?.published?.target ?? '',
      status,
      leases: leases.filter((l) => l.sink === spec.name),
      role: role && roleFingerprint(role),
      now,
    });
    rows.push({
      ...base(spec.name, status, schedule.retiring),
      mount: spec.mount,
      role: spec.role,
      type: spec.type,
      target: status?.published?.target,
      leaseId: schedule.current?.leaseId,
      issuedAt: schedule.current?.issuedAt,
      expiresAt: schedule.current?.expiresAt,
      nextAction: schedule.next.action,
      // A failing sink's next attempt waits for its backoff.
      nextAt: schedule.due && status?.nextAttemptAt !== undefined ? Math.max(schedule.next.at ?? now, status.nextAttemptAt) : schedule.next.at,
    });
  }
  const known = new Set(applied.sinks.map((s) => s.name));
  const removed = [...new Set(leases.map((l) => l.sink))].filter((n): n is string => n !== undefined && !known.has(n));
  for (const name of removed) {
    const status = await state.getSinkStatus(name);
    const spec = status?.published?.spec;
    rows.push({
      ...base(name, status, leases.filter((l) => l.sink === name && l.revokeAt !== undefined)),
      mount: spec?.mount,
      role: spec?.role,
      type: spec?.type,
      target: status?.published?.target,
      nextAction: 'remove',
      nextAt: now,
    });
  }
  return rows;
}

function base(name: string, status: SinkStatus | undefined, retiring: Lease[]) {
  return {
    name,
    retiring: retiring.map((l) => ({ leaseId: l.leaseId, revokeAt: l.revokeAt! })),
    lastSuccessAt: status?.lastSuccessAt,
    lastError: status?.lastError,
    ...(status?.failures ? { failures: status.failures, nextAttemptAt: status.nextAttemptAt } : {}),
  };
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

function rowJson(r: SinkStatusRow) {
  return {
    name: r.name,
    mount: r.mount ?? null,
    role: r.role ?? null,
    type: r.type ?? null,
    target: r.target ?? null,
    lease_id: r.leaseId ?? null,
    issued_at: iso(r.issuedAt) ?? null,
    expires_at: iso(r.expiresAt) ?? null,
    next_action: r.nextAction,
    next_at: iso(r.nextAt) ?? null,
    retiring: r.retiring.map((l) => ({ lease_id: l.leaseId, revoke_at: iso(l.revokeAt) })),
    last_success_at: iso(r.lastSuccessAt) ?? null,
    last_error: r.lastError ?? null,
    failed_attempts: r.failures ?? 0,
    next_attempt_at: iso(r.nextAttemptAt) ?? null,
  };
}

/** `2024-05-01 12:00:00Z`: sortable, and short enough for a table. */
const shortTime = (ms: number | undefined) => (ms === undefined ? '-' : new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z'));

function when(at: number | undefined, now: number): string {
  if (at === undefined) return '-';
  const seconds = Math.round((at - now) / 1000);
  if (seconds <= 0) return 'now';
  return `in ${formatDuration(seconds)}`;
}

function renderTable(rows: SinkStatusRow[], now: number): string {
  if (!rows.length) return 'No sinks. Add sinks/NAME.yaml to the repo and run credops reconcile.\n';
  const header = ['SINK', 'ROLE', 'LEASE ID', 'ISSUED', 'EXPIRES', 'NEXT', 'WHEN', 'LAST ERROR'];
  const cells = rows.map((r) => [
    r.name,
    r.mount && r.role ? `${r.mount}/${r.role}` : '-',
    r.leaseId ?? '-',
    shortTime(r.issuedAt),
    shortTime(r.expiresAt),
    r.nextAction,
    r.nextAction === 'none' ? '-' : when(r.nextAt, now),
    r.lastError === undefined ? '-' : `${r.failures ? `(${r.failures} failed attempt${r.failures === 1 ? '' : 's'}) ` : ''}${r.lastError}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  // The last column is not padded: an error message may be long.
  const line = (c: string[]) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]!))).join('  ').trimEnd();
  return `${[header, ...cells].map(line).join('\n')}\n`;
}
