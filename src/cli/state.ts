import { Option, type Command } from 'commander';
import { isDeepStrictEqual } from 'node:util';
import { UserError } from '../errors.js';
import { NoStateError, openState } from '../state/index.js';
import type { StateDump, StateStore } from '../state/store.js';
import { locate } from './location.js';
import { lockOwner, lockTimeoutMs, type Run } from './runtime.js';

/**
 * `credops state init|show|migrate|unlock`: the state itself, Terraform's
 * backend commands in spirit (issue #10). --state, CREDOPS_STATE or
 * credops.yaml's state: say which state, as for every command.
 */
export function registerState(program: Command, run: Run): void {
  const state = program.command('state').description('create, inspect, move or unlock the state');

  state
    .command('init')
    .description('create the state (a DynamoDB table: on-demand, point-in-time recovery, deletion protection), or check an existing table')
    .action(async (_opts: unknown, cmd: Command) => {
      const where = await locate(cmd, run.io);
      if (where.stateUrl.toLowerCase().startsWith('dynamodb:')) {
        const [{ parseDynamoUrl }, { initTable }] = await Promise.all([import('../state/dynamodb-location.js'), import('../state/dynamodb-init.js')]);
        const location = parseDynamoUrl(where.stateUrl);
        run.io.stderr(`Checking DynamoDB table ${location.table}...\n`);
        const report = await initTable(location);
        for (const note of report.notes) run.io.stdout(`${note}\n`);
        for (const warning of report.warnings) run.io.stderr(`Warning: ${warning}\n`);
        if (report.problems.length) {
          throw new UserError(
            `table ${location.table} cannot hold a credops state:\n${report.problems.map((p) => `  - ${p}`).join('\n')}\n` +
              'Fix the table (docs/state.md has it as CloudFormation and Terraform) or name another one.',
          );
        }
      }
      const store = await openState(where.stateUrl, { cwd: where.stateBase });
      try {
        const applied = await store.getApplied();
        run.io.stdout(`State ${store.url} is ready (id ${store.id}, serial ${applied.serial}).\n`);
      } finally {
        await store.close();
      }
    });

  state
    .command('show')
    .description('where the state is, its id, serial, commit, counts and the lock holder')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (opts: { format: 'text' | 'json' }, cmd: Command) => {
      const where = await locate(cmd, run.io);
      const store = await openExisting(where.stateUrl, where.stateBase);
      try {
        const shown = await describeState(store);
        run.io.stdout(opts.format === 'json' ? `${JSON.stringify(shown, null, 2)}\n` : renderState(shown));
      } finally {
        await store.close();
      }
    });

  state
    .command('unlock')
    .description("remove a lock left by a run that is gone for good (Terraform's force-unlock)")
    .option('--force <lock-id>', 'the id of the lock to remove, as `credops state show` and the lock error print it')
    .action(async (opts: { force?: string }, cmd: Command) => {
      if (!opts.force) cmd.error('error: say which lock to remove: --force LOCK_ID (see credops state show). Only do it when that run is gone for good.');
      const where = await locate(cmd, run.io);
      const store = await openExisting(where.stateUrl, where.stateBase);
      try {
        const holder = await store.lockHolder();
        if (!(await store.forceUnlock(opts.force!))) {
          throw new UserError(
            holder ? `the lock of ${store.url} has id ${holder.id}, not ${opts.force}; nothing was removed` : `${store.url} is not locked; nothing was removed`,
          );
        }
        run.io.stdout(`Removed lock ${opts.force} of ${holder?.operation ?? 'a run'} (pid ${holder?.pid} on host ${holder?.host}) from ${store.url}.\n`);
      } finally {
        await store.close();
      }
    });

  state
    .command('migrate')
    .description('copy the state to another backend (e.g. SQLite to DynamoDB), verify the copy, and mark the old one as moved')
    .requiredOption('--to <url>', 'the new state, e.g. dynamodb://credops-state/prod (it must be empty)')
    .action(async (opts: { to: string }, cmd: Command) => {
      const where = await locate(cmd, run.io);
      const source = await openState(where.stateUrl, { cwd: where.stateBase, create: false });
      const held: { release(): Promise<void> }[] = [];
      const opened: StateStore[] = [source];
      try {
        const owner = lockOwner('state migrate');
        const timeout = lockTimeoutMs(cmd);
        held.push(await source.lock(owner, timeout));
        const target = await openState(opts.to, { cwd: run.io.cwd });
        opened.push(target);
        if (target.id === source.id || target.url === source.url) throw new UserError(`--to ${opts.to} is the state being moved`);
        held.push(await target.lock(owner, timeout));

        const dump = await source.exportAll();
        run.io.stderr(`Copying state ${dump.id} from ${source.url} to ${target.url}...\n`);
        await target.importAll(dump);
        const reread = await openState(opts.to, { cwd: run.io.cwd });
        opened.push(reread);
        const differences = compareDumps(dump, await reread.exportAll());
        if (differences.length) {
          throw new UserError(
            `the copy in ${target.url} differs from ${source.url}; the old state was left in use and not marked:\n${differences.map((d) => `  - ${d}`).join('\n')}`,
          );
        }
        await source.markMoved(target.url);
        run.io.stdout(
          `Copied state ${dump.id} (serial ${dump.serial}${dump.commit ? `, commit ${dump.commit}` : ''}) to ${target.url}: ` +
            `${dump.roles.length} roles, ${dump.sinks.length} sinks, ${dump.mounts.length} mounts, ${dump.leases.length} leases, ` +
            `${dump.journal.length} journal entries, ${Object.keys(dump.settings).length} settings, ${Object.keys(dump.sinkStatus).length} sink statuses. ` +
            'Verified item by item.\n' +
            `${source.url} is marked as moved: every command on it now refuses and names the new state. ` +
            `Point --state, CREDOPS_STATE or credops.yaml's state: at ${target.url}.\n`,
        );
      } finally {
        for (const h of held.reverse()) await h.release().catch(() => undefined);
        for (const s of opened) await s.close().catch(() => undefined);
      }
    });
}

/** A state that must exist already (show, unlock): never created here, moved ones included. */
async function openExisting(url: string, cwd: string): Promise<StateStore> {
  try {
    return await openState(url, { cwd, create: false, allowMoved: true });
  } catch (err) {
    if (!(err instanceof NoStateError)) throw err;
    throw new UserError(
      `there is no state at ${err.location} yet: nothing has been applied or issued with it. ` +
        'credops state init creates a DynamoDB state; a SQLite one is made by the first reconcile',
    );
  }
}

/** Every item of a dump that is missing, extra or different in the copy. */
export function compareDumps(source: StateDump, copy: StateDump): string[] {
  const out: string[] = [];
  for (const field of ['id', 'serial', 'commit', 'appliedAt'] as const) {
    if (source[field] !== copy[field]) out.push(`${field}: ${String(source[field])} became ${String(copy[field])}`);
  }
  const byKey = <T>(what: string, a: T[], b: T[], key: (t: T) => string) => compareMaps(what, new Map(a.map((x) => [key(x), x])), new Map(b.map((x) => [key(x), x])), out);
  byKey('role', source.roles, copy.roles, (r) => `${r.mount}/${r.name}`);
  byKey('static role', source.staticRoles ?? [], copy.staticRoles ?? [], (r) => `${r.mount}/${r.name}`);
  byKey('sink', source.sinks, copy.sinks, (s) => s.name);
  byKey('mount', source.mounts, copy.mounts, (m) => m.name);
  byKey('lease', source.leases, copy.leases, (l) => l.leaseId);
  byKey('journal entry', source.journal, copy.journal, (j) => j.id);
  compareMaps('setting', new Map(Object.entries(source.settings)), new Map(Object.entries(copy.settings)), out);
  compareMaps('sink status', new Map(Object.entries(source.sinkStatus)), new Map(Object.entries(copy.sinkStatus)), out);
  if (!isDeepStrictEqual(source.roles.map((r) => r.name), copy.roles.map((r) => r.name))) out.push('roles: the order differs');
  return out;
}

function compareMaps<T>(what: string, a: Map<string, T>, b: Map<string, T>, out: string[]): void {
  for (const [key, value] of a) {
    if (!b.has(key)) out.push(`${what} ${key}: missing in the copy`);
    else if (!isDeepStrictEqual(value, b.get(key))) out.push(`${what} ${key}: differs in the copy`);
  }
  for (const key of b.keys()) if (!a.has(key)) out.push(`${what} ${key}: in the copy only`);
}

export interface StateDescription {
  url: string;
  id: string;
  serial: number;
  commit: string | null;
  applied_at: string | null;
  roles: number;
  sinks: number;
  mounts: number;
  leases: number;
  journal_entries: number;
  sink_statuses: number;
  lock: { id: string | null; operation: string; pid: number; host: string; since: string; expires_at: string | null } | null;
  moved_to: { url: string; at: string } | null;
}

export async function describeState(store: StateStore): Promise<StateDescription> {
  const applied = await store.getApplied();
  const { leases, sinkStatus } = await store.listLeasesAndSinkStatus();
  const journal = await store.listJournal();
  const holder = await store.lockHolder();
  const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    url: store.url,
    id: store.id,
    serial: applied.serial,
    commit: applied.commit ?? null,
    applied_at: applied.appliedAt === undefined ? null : iso(applied.appliedAt),
    roles: applied.roles.length,
    sinks: applied.sinks.length,
    mounts: applied.mounts.length,
    leases: leases.length,
    journal_entries: journal.length,
    sink_statuses: Object.keys(sinkStatus).length,
    lock: holder
      ? { id: holder.id ?? null, operation: holder.operation, pid: holder.pid, host: holder.host, since: iso(holder.since), expires_at: holder.expiresAt === undefined ? null : iso(holder.expiresAt) }
      : null,
    moved_to: store.movedTo ? { url: store.movedTo.url, at: iso(store.movedTo.at) } : null,
  };
}

function renderState(d: StateDescription): string {
  const lines = [
    `State:      ${d.url}`,
    `Id:         ${d.id}`,
    `Serial:     ${d.serial}`,
    `Commit:     ${d.commit ?? '(never applied)'}`,
    ...(d.applied_at ? [`Applied at: ${d.applied_at}`] : []),
    `Applied:    ${d.roles} roles, ${d.sinks} sinks, ${d.mounts} mounts`,
    `Leases:     ${d.leases}`,
    `Journal:    ${d.journal_entries} in-flight entr${d.journal_entries === 1 ? 'y' : 'ies'}`,
    `Sinks:      ${d.sink_statuses} with a status`,
    d.lock
      ? `Lock:       held by ${d.lock.operation} (pid ${d.lock.pid} on host ${d.lock.host}, since ${d.lock.since}${d.lock.expires_at ? `, expires ${d.lock.expires_at} unless renewed` : ''}); id ${d.lock.id}`
      : 'Lock:       free',
  ];
  if (d.moved_to) lines.push(`Moved:      to ${d.moved_to.url} at ${d.moved_to.at}; commands on this state refuse`);
  return `${lines.join('\n')}\n`;
}
