import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import { LockError, LockLostError, UserError } from '../errors.js';
import type { AccessSpec, AppliedSnapshot, JournalEntry, Lease, MountConfig, RoleSpec, SinkSpec, StaticRoleSpec } from '../model/types.js';
import { migrate } from './migrations.js';
import { describeHolder, formatWait, leaseDueAt, stateDump, type AppliedChange, type CounterBounds, type LeaseFilter, type LockHandle, type LockOwner, type MovedMarker, type SinkStatus, type StateDump, type StateStore } from './store.js';

/** The settings key of the moved marker (`credops state migrate`). */
const MOVED_SETTING = 'credops.moved_to';

/** How often a waiting lock() looks again: often enough to feel immediate, rare enough to cost nothing. */
export const LOCK_POLL_MS = 200;

/**
 * How long one statement waits for another process's write transaction to end
 * before SQLite gives up with SQLITE_BUSY. Apply transactions are short (no AWS
 * call ever happens inside one), so this is only ever hit by a stuck process.
 */
const BUSY_TIMEOUT_MS = 10_000;

export interface SqliteOptions {
  /** The URL the user gave, kept for messages. */
  url?: string;
  clock?: Clock;
}

interface LockRow {
  token: string;
  pid: number;
  host: string;
  since: number;
  operation: string;
  boot_id: string | null;
  pid_ns: string | null;
}

interface LeaseRow {
  data: string;
}

/** The SQLite backend of StateStore (one file, WAL mode). `path` is a file path or ":memory:". */
export class SqliteStateStore implements StateStore {
  readonly url: string;
  /** Set at open; importAll() gives an empty state the id of the state it copies. */
  id: string;
  readonly movedTo?: MovedMarker;
  private readonly path: string;
  private readonly db: Database.Database;
  private readonly clock: Clock;
  /** Locks taken through this store, released on close() and on process exit. */
  private readonly held = new Set<string>();
  private readonly onExit = (): void => this.releaseAllSync();

  private constructor(db: Database.Database, path: string, url: string, clock: Clock) {
    this.db = db;
    this.path = path;
    this.url = url;
    this.clock = clock;
    this.id = db.prepare('SELECT state_id FROM meta WHERE id = 1').pluck().get() as string;
    const moved = db.prepare('SELECT value FROM settings WHERE key = ?').pluck().get(MOVED_SETTING) as string | undefined;
    if (moved !== undefined) this.movedTo = JSON.parse(moved) as MovedMarker;
  }

  static open(path: string, options: SqliteOptions = {}): SqliteStateStore {
    const url = options.url ?? `sqlite:${path}`;
    const memory = path === ':memory:';
    if (!memory) {
      refuseForeignFile(path, url);
      try {
        mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
        // The state holds encrypted root keys and what every lease consists of:
        // create it owner-only. SQLite gives its -wal and -shm files the same mode.
        if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
      } catch (err) {
        throw new UserError(`cannot create the state ${url}: ${(err as Error).message}`, { cause: err });
      }
    }
    let db: Database.Database | undefined;
    try {
      db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      db.pragma('foreign_keys = ON');
      // FULL, not WAL's usual NORMAL: a journal entry must be on disk before the
      // AWS write it announces (invariant 1), even if the machine dies right after.
      db.pragma('synchronous = FULL');
      migrate(db, url);
    } catch (err) {
      db?.close();
      if (err instanceof UserError) throw err;
      if (err instanceof Database.SqliteError && (err.code === 'SQLITE_NOTADB' || err.code === 'SQLITE_CORRUPT')) {
        throw new UserError(`the state ${url} is not a credops state: ${path} is not a SQLite database`, { cause: err });
      }
      if (err instanceof Database.SqliteError && err.code.startsWith('SQLITE_CANTOPEN')) {
        throw new UserError(`cannot open the state ${url}: ${err.message}`, { cause: err });
      }
      throw err;
    }
    return new SqliteStateStore(db, path, url, options.clock ?? systemClock);
  }

  // ---- applied desired state ---------------------------------------------------

  async getApplied(): Promise<AppliedSnapshot> {
    return this.db.transaction(() => this.appliedSync()).deferred();
  }

  private appliedSync(): AppliedSnapshot {
      const meta = this.db.prepare('SELECT commit_sha, applied_at, serial, access FROM meta WHERE id = 1').get() as
        | { commit_sha: string | null; applied_at: number | null; serial: number; access: string | null }
        | undefined;
      const specs = <T>(table: string): T[] =>
        (this.db.prepare(`SELECT spec FROM ${table} ORDER BY position`).pluck().all() as string[]).map((s) => JSON.parse(s) as T);
      const snapshot: AppliedSnapshot = {
        roles: specs<RoleSpec>('roles'),
        staticRoles: specs<StaticRoleSpec>('static_roles'),
        sinks: specs<SinkSpec>('sinks'),
        mounts: specs<MountConfig>('mounts'),
        serial: meta?.serial ?? 0,
      };
      if (meta?.commit_sha != null) snapshot.commit = meta.commit_sha;
      if (meta?.applied_at != null) snapshot.appliedAt = meta.applied_at;
      if (meta?.access != null) snapshot.access = JSON.parse(meta.access) as AccessSpec;
      return snapshot;
  }

  async apply(change: AppliedChange): Promise<void> {
    const tx = this.db.transaction(() => {
      const serial = this.db.prepare('SELECT serial FROM meta WHERE id = 1').pluck().get() as number;
      if (change.expectSerial !== undefined && change.expectSerial !== serial) {
        throw new UserError(
          `the state changed since this plan was made (plan made at serial ${change.expectSerial}, state is now at serial ${serial}); ` +
            'run plan again and apply the new plan',
        );
      }
      this.db.exec('DELETE FROM roles; DELETE FROM static_roles; DELETE FROM sinks; DELETE FROM mounts;');
      this.insertSnapshotSync(change);
      this.db
        .prepare('UPDATE meta SET commit_sha = ?, applied_at = ?, access = ?, serial = serial + 1 WHERE id = 1')
        .run(change.commit, this.clock.now(), change.access ? JSON.stringify(change.access) : null);
    });
    tx.immediate();
  }

  /** The rows of an applied snapshot, in its order (the tables are empty). */
  private insertSnapshotSync(snapshot: Pick<AppliedChange, 'roles' | 'staticRoles' | 'sinks' | 'mounts'>): void {
    const role = this.db.prepare('INSERT INTO roles (mount, name, position, spec) VALUES (?, ?, ?, ?)');
    snapshot.roles.forEach((r, i) => role.run(r.mount, r.name, i, JSON.stringify(r)));
    const staticRole = this.db.prepare('INSERT INTO static_roles (mount, name, position, spec) VALUES (?, ?, ?, ?)');
    (snapshot.staticRoles ?? []).forEach((r, i) => staticRole.run(r.mount, r.name, i, JSON.stringify(r)));
    const sink = this.db.prepare('INSERT INTO sinks (name, position, spec) VALUES (?, ?, ?)');
    snapshot.sinks.forEach((s, i) => sink.run(s.name, i, JSON.stringify(s)));
    const mount = this.db.prepare('INSERT INTO mounts (name, position, spec) VALUES (?, ?, ?)');
    snapshot.mounts.forEach((m, i) => mount.run(m.name, i, JSON.stringify(m)));
  }

  // ---- leases ------------------------------------------------------------------

  async putLease(lease: Lease): Promise<void> {
    this.upsertLease(lease);
  }

  async getLease(leaseId: string): Promise<Lease | undefined> {
    const row = this.db.prepare('SELECT data FROM leases WHERE lease_id = ?').get(leaseId) as LeaseRow | undefined;
    return row ? (JSON.parse(row.data) as Lease) : undefined;
  }

  async listLeases(filter: LeaseFilter = {}): Promise<Lease[]> {
    return this.leasesSync(filter);
  }

  private leasesSync(filter: LeaseFilter = {}): Lease[] {
    const where: string[] = [];
    const params: Record<string, string | number> = {};
    if (filter.prefix) {
      // Vault's revoke-prefix: lease ids that start with the prefix, character
      // for character. Not LIKE/GLOB, whose "_", "%", "*" and "[" would match
      // other leases' ids. The >= bound lets SQLite start from the primary key.
      where.push('lease_id >= @prefix AND substr(lease_id, 1, length(@prefix)) = @prefix');
      params.prefix = filter.prefix;
    }
    for (const key of ['mount', 'role', 'sink'] as const) {
      const value = filter[key];
      if (value !== undefined) {
        where.push(`${key} = @${key}`);
        params[key] = value;
      }
    }
    const sql = `SELECT data FROM leases ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY lease_id`;
    const leases = (this.db.prepare(sql).all(params) as LeaseRow[]).map((r) => JSON.parse(r.data) as Lease);
    const dueBy = filter.dueBy;
    return dueBy === undefined ? leases : leases.filter((l) => leaseDueAt(l) <= dueBy);
  }

  async listLeasesAndSinkStatus(): Promise<{ leases: Lease[]; sinkStatus: Record<string, SinkStatus> }> {
    return this.db.transaction(() => ({ leases: this.leasesSync(), sinkStatus: this.sinkStatusSync() })).deferred();
  }

  async deleteLease(leaseId: string): Promise<void> {
    this.db.prepare('DELETE FROM leases WHERE lease_id = ?').run(leaseId);
  }

  private upsertLease(lease: Lease): void {
    this.db
      .prepare(
        `INSERT INTO leases (lease_id, mount, role, sink, credential_type, expires_at, data)
         VALUES (@leaseId, @mount, @role, @sink, @credentialType, @expiresAt, @data)
         ON CONFLICT (lease_id) DO UPDATE SET mount = excluded.mount, role = excluded.role, sink = excluded.sink,
           credential_type = excluded.credential_type, expires_at = excluded.expires_at, data = excluded.data`,
      )
      .run({
        leaseId: lease.leaseId,
        mount: lease.mount,
        role: lease.role,
        sink: lease.sink ?? null,
        credentialType: lease.credentialType,
        expiresAt: lease.expiresAt,
        data: JSON.stringify(lease),
      });
  }

  // ---- journal -----------------------------------------------------------------

  async putJournal(entry: JournalEntry): Promise<void> {
    this.putJournalSync(entry);
  }

  private putJournalSync(entry: JournalEntry): void {
    this.db
      .prepare(
        `INSERT INTO journal (id, lease_id, mount, role, kind, created_at, data, live_until)
         VALUES (@id, @leaseId, @mount, @role, @kind, @createdAt, @data, @liveUntil)
         ON CONFLICT (id) DO UPDATE SET lease_id = excluded.lease_id, mount = excluded.mount, role = excluded.role,
           kind = excluded.kind, created_at = excluded.created_at, data = excluded.data, live_until = excluded.live_until`,
      )
      .run({
        id: entry.id,
        leaseId: entry.leaseId,
        mount: entry.mount,
        role: entry.role,
        kind: entry.kind,
        createdAt: entry.createdAt,
        data: JSON.stringify(entry.data),
        liveUntil: entry.liveUntil ?? null,
      });
  }

  async listJournal(): Promise<JournalEntry[]> {
    return this.journalSync();
  }

  private journalSync(): JournalEntry[] {
    const rows = this.db
      .prepare('SELECT id, lease_id, mount, role, kind, created_at, data, live_until FROM journal ORDER BY created_at, id')
      .all() as { id: string; lease_id: string; mount: string; role: string; kind: string; created_at: number; data: string; live_until: number | null }[];
    return rows.map((r) => ({
      id: r.id,
      leaseId: r.lease_id,
      mount: r.mount,
      role: r.role,
      kind: r.kind,
      data: JSON.parse(r.data) as Record<string, unknown>,
      createdAt: r.created_at,
      ...(r.live_until !== null ? { liveUntil: r.live_until } : {}),
    }));
  }

  async deleteJournal(id: string): Promise<void> {
    this.db.prepare('DELETE FROM journal WHERE id = ?').run(id);
  }

  async completeJournal(id: string, lease: Lease): Promise<void> {
    const tx = this.db.transaction(() => {
      const removed = this.db.prepare('DELETE FROM journal WHERE id = ?').run(id);
      // Gone means another run's recovery already rolled it back (deleted what
      // it described in AWS): recording a lease for it would be a lie.
      if (removed.changes === 0) throw new Error(`bug: journal entry ${id} not found; it was recovered by another run`);
      this.upsertLease(lease);
    });
    tx.immediate();
  }

  // ---- counters (credops server's caps) -----------------------------------------

  async addToCounter(key: string, delta: number, opts: CounterBounds = {}): Promise<boolean> {
    // BEGIN IMMEDIATE: the read and the write are one step for every process on this file.
    return this.db
      .transaction((): boolean => {
        const next = ((this.db.prepare('SELECT value FROM counters WHERE key = ?').pluck().get(key) as number | undefined) ?? 0) + delta;
        if ((opts.max !== undefined && next > opts.max) || (opts.min !== undefined && next < opts.min)) return false;
        this.db
          .prepare('INSERT INTO counters (key, value, expires_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at')
          .run(key, next, opts.expiresAt ?? null);
        return true;
      })
      .immediate();
  }

  async getCounter(key: string): Promise<number> {
    const row = this.db.prepare('SELECT value, expires_at FROM counters WHERE key = ?').get(key) as { value: number; expires_at: number | null } | undefined;
    return row && (row.expires_at === null || row.expires_at > this.clock.now()) ? row.value : 0;
  }

  async deleteCounter(key: string): Promise<void> {
    this.db.prepare('DELETE FROM counters WHERE key = ?').run(key);
  }

  async setCounter(key: string, value: number, expected: number): Promise<boolean> {
    return this.db
      .transaction((): boolean => {
        const current = (this.db.prepare('SELECT value FROM counters WHERE key = ? AND expires_at IS NULL').pluck().get(key) as number | undefined) ?? 0;
        if (current !== expected) return false;
        this.db.prepare('INSERT INTO counters (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = NULL').run(key, value);
        return true;
      })
      .immediate();
  }

  // ---- settings and sink status ----------------------------------------------

  async getSetting(key: string): Promise<string | undefined> {
    const value = this.db.prepare('SELECT value FROM settings WHERE key = ?').pluck().get(key) as string | undefined;
    return value ?? undefined;
  }

  async setSetting(key: string, value: string): Promise<void> {
    this.setSettingSync(key, value);
  }

  private setSettingSync(key: string, value: string): void {
    this.db
      .prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value')
      .run(key, value);
  }

  async listSettings(prefix: string): Promise<Record<string, string>> {
    const rows = this.db.prepare("SELECT key, value FROM settings WHERE substr(key, 1, ?) = ? ORDER BY key").all(prefix.length, prefix) as { key: string; value: string }[];
    return Object.fromEntries(rows.filter((r) => r.key !== MOVED_SETTING).map((r) => [r.key, r.value]));
  }

  async deleteSetting(key: string): Promise<void> {
    this.db.prepare('DELETE FROM settings WHERE key = ?').run(key);
  }

  async getSinkStatus(name: string): Promise<SinkStatus | undefined> {
    const data = this.db.prepare('SELECT data FROM sink_status WHERE name = ?').pluck().get(name) as string | undefined;
    return data === undefined ? undefined : (JSON.parse(data) as SinkStatus);
  }

  async listSinkStatus(): Promise<Record<string, SinkStatus>> {
    return this.sinkStatusSync();
  }

  private sinkStatusSync(): Record<string, SinkStatus> {
    const rows = this.db.prepare('SELECT name, data FROM sink_status ORDER BY name').all() as { name: string; data: string }[];
    return Object.fromEntries(rows.map((r) => [r.name, JSON.parse(r.data) as SinkStatus]));
  }

  async setSinkStatus(name: string, status: SinkStatus): Promise<void> {
    this.setSinkStatusSync(name, status);
  }

  private setSinkStatusSync(name: string, status: SinkStatus): void {
    this.db
      .prepare('INSERT INTO sink_status (name, data) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET data = excluded.data')
      .run(name, JSON.stringify(status));
  }

  // ---- lock --------------------------------------------------------------------

  async lock(owner: LockOwner, timeoutMs: number): Promise<LockHandle> {
    const token = randomUUID();
    const limit = Number.isNaN(timeoutMs) ? 0 : Math.max(0, timeoutMs);
    const started = Date.now();
    for (;;) {
      const holder = this.tryLock(owner, token);
      if (!holder) break;
      const waited = Date.now() - started;
      if (waited >= limit) {
        throw new LockError(
          `state is locked by ${describeHolder(holder)}; waited ${formatWait(waited)}. ` +
            'Wait for that run to finish, or raise --lock-timeout. If that process is gone (another machine, or its pid ' +
            `was reused), remove the lock: credops state unlock --force ${holder.id ?? ''} --state ${shellQuote(this.url)}`,
        );
      }
      // Real time, not this.clock: the holder is another process on the wall clock.
      await new Promise((resolve) => setTimeout(resolve, Math.min(LOCK_POLL_MS, limit - waited)));
    }

    if (this.held.size === 0) process.on('exit', this.onExit);
    this.held.add(token);
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        this.releaseSync(token);
      },
    };
  }

  async lockHolder(): Promise<LockOwner | undefined> {
    const row = this.db.prepare('SELECT * FROM lock WHERE id = 1').get() as LockRow | undefined;
    return row ? toOwner(row) : undefined;
  }

  async ensureLocked(what: string): Promise<void> {
    if (this.held.size === 0) return;
    const token = this.db.prepare('SELECT token FROM lock WHERE id = 1').pluck().get() as string | undefined;
    if (token === undefined || !this.held.has(token)) {
      throw new LockLostError(`this run's lock on the state ${this.url} was removed or taken over, so it did not ${what}; run the command again`);
    }
  }

  async forceUnlock(lockId: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM lock WHERE id = 1 AND token = ?').run(lockId).changes > 0;
  }

  // ---- migration ---------------------------------------------------------------

  async exportAll(): Promise<StateDump> {
    const read = this.db.transaction((): StateDump => {
      const applied = this.appliedSync();
      const settings = Object.fromEntries(
        (this.db.prepare('SELECT key, value FROM settings ORDER BY key').all() as { key: string; value: string }[]).filter((r) => r.key !== MOVED_SETTING).map((r) => [r.key, r.value]),
      );
      return stateDump(this.id, applied, { leases: this.leasesSync(), journal: this.journalSync(), settings, sinkStatus: this.sinkStatusSync() });
    });
    return read.deferred();
  }

  async importAll(dump: StateDump): Promise<void> {
    const tx = this.db.transaction(() => {
      const count = (table: string) => this.db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
      const serial = this.db.prepare('SELECT serial FROM meta WHERE id = 1').pluck().get() as number;
      const used = ['leases', 'journal', 'settings', 'sink_status', 'roles', 'static_roles'].filter((t) => count(t) > 0);
      if (serial !== 0 || used.length > 0) {
        throw new UserError(`the state ${this.url} is not empty (serial ${serial}${used.length ? `; it has ${used.join(', ')}` : ''}); a state can only be copied into an empty one`);
      }
      this.insertSnapshotSync(dump);
      this.db
        .prepare('UPDATE meta SET state_id = ?, commit_sha = ?, applied_at = ?, serial = ?, access = ? WHERE id = 1')
        .run(dump.id, dump.commit ?? null, dump.appliedAt ?? null, dump.serial, dump.access ? JSON.stringify(dump.access) : null);
      for (const lease of dump.leases) this.upsertLease(lease);
      for (const entry of dump.journal) this.putJournalSync(entry);
      for (const [key, value] of Object.entries(dump.settings)) this.setSettingSync(key, value);
      for (const [name, status] of Object.entries(dump.sinkStatus)) this.setSinkStatusSync(name, status);
    });
    tx.immediate();
    this.id = dump.id;
  }

  async markMoved(url: string): Promise<void> {
    const marker: MovedMarker = { url, at: this.clock.now() };
    await this.setSetting(MOVED_SETTING, JSON.stringify(marker));
  }

  /** Takes the lock if free (or left by a dead process); returns the live holder otherwise. */
  private tryLock(owner: LockOwner, token: string): LockOwner | undefined {
    const here = localIdentity();
    const tx = this.db.transaction((): LockOwner | undefined => {
      const row = this.db.prepare('SELECT * FROM lock WHERE id = 1').get() as LockRow | undefined;
      if (row && !holderIsDead(row, here)) return toOwner(row);
      this.db
        .prepare(
          `INSERT OR REPLACE INTO lock (id, token, pid, host, since, operation, boot_id, pid_ns)
           VALUES (1, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(token, owner.pid, owner.host, owner.since, owner.operation, here.bootId, here.pidNs);
      return undefined;
    });
    return tx.immediate();
  }

  private releaseSync(token: string): void {
    this.held.delete(token);
    if (this.held.size === 0) process.removeListener('exit', this.onExit);
    // Only our own row: if a takeover happened (we were presumed dead), the lock is no longer ours to delete.
    if (this.db.open) this.db.prepare('DELETE FROM lock WHERE id = 1 AND token = ?').run(token);
  }

  private releaseAllSync(): void {
    for (const token of [...this.held]) {
      try {
        this.releaseSync(token);
      } catch {
        // On exit or close nothing can be done about a failed delete; the next run takes over a dead holder's lock.
      }
    }
  }

  async close(): Promise<void> {
    if (!this.db.open) return;
    this.releaseAllSync();
    this.db.close();
  }
}

function shellQuote(s: string): string {
  return /^[\w./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function toOwner(row: LockRow): LockOwner {
  return { pid: row.pid, host: row.host, since: row.since, operation: row.operation, id: row.token };
}

interface LocalIdentity {
  host: string;
  /** Linux: changes on every boot, the same in every container of one kernel. */
  bootId: string | null;
  /** Linux: the pid namespace; a pid means the same process only inside one namespace. */
  pidNs: string | null;
}

function localIdentity(): LocalIdentity {
  return {
    host: hostname(),
    bootId: readOrNull(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()),
    pidNs: readOrNull(() => readlinkSync('/proc/self/ns/pid')),
  };
}

function readOrNull(read: () => string): string | null {
  try {
    return read();
  } catch {
    return null;
  }
}

/**
 * A lock is taken over only when its holder is provably gone; any doubt means
 * waiting, because two writers is the one thing the lock exists to prevent.
 * - Another host name: we cannot see its processes.
 * - Same host, another boot (the machine restarted): every pid of that boot is gone.
 * - Same host, another pid namespace (containers sharing a volume and a host name):
 *   the holder's pid means nothing here.
 * - Otherwise: signal 0 tells whether the pid is alive (EPERM: alive, not ours).
 *   A pid reused by an unrelated process looks alive; the LockError says how to clear it.
 */
function holderIsDead(row: LockRow, here: LocalIdentity): boolean {
  if (row.host !== here.host) return false;
  if (row.boot_id && here.bootId && row.boot_id !== here.bootId) return true;
  if ((row.pid_ns ?? null) !== here.pidNs) return false;
  if (row.pid === process.pid) return false;
  return !pidAlive(row.pid);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A state file that exists must be credops's. An empty file (a failed copy, a
 * truncated restore, `touch`) would otherwise be taken for a fresh state, and
 * the next reconcile would issue every sink again and forget the live users of
 * the real one. A SQLite database of something else would get credops's tables.
 */
function refuseForeignFile(path: string, url: string): void {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return; // does not exist: a new state
  }
  const fresh = `To start a new, empty state on purpose, move the file away (mv ${path} ${path}.bak) and run again`;
  if (size === 0) throw new UserError(`the state ${url} is an empty file (0 bytes), not a credops state; nothing was changed. ${fresh}`);
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[];
    if (tables.length > 0 && !tables.includes('schema_version')) {
      throw new UserError(`the state ${url} is a SQLite database of something else (tables ${tables.slice(0, 5).join(', ')}), not a credops state; nothing was changed. ${fresh}`);
    }
  } catch (err) {
    if (err instanceof UserError) throw err;
    if (err instanceof Database.SqliteError && (err.code === 'SQLITE_NOTADB' || err.code === 'SQLITE_CORRUPT')) {
      throw new UserError(`the state ${url} is not a credops state: ${path} is not a SQLite database; nothing was changed. ${fresh}`, { cause: err });
    }
    // Anything else (WAL recovery needing write access, a lock) is for the real open to report.
  } finally {
    db?.close();
  }
}
