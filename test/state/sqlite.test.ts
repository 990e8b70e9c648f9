import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { openState } from '../../src/state/index.js';
import { LATEST_SCHEMA_VERSION, migrate, type Migration } from '../../src/state/migrations.js';
import { SqliteStateStore } from '../../src/state/sqlite.js';
import type { StateStore } from '../../src/state/store.js';
import { journal, lease, mount, role, sink } from './fixtures.js';

let dir: string;
let dbPath: string;
const open: StateStore[] = [];

async function openAt(path = dbPath): Promise<StateStore> {
  const store = await openState(`sqlite://${path}`);
  open.push(store);
  return store;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'credops-state-'));
  dbPath = join(dir, 'nested', 'dir', 'state.db');
});

afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('opening a state', () => {
  it('creates the parent directory and an owner-only file in WAL mode, at the latest schema version', async () => {
    await openAt();
    expect(statSync(dbPath).mode & 0o777).toBe(0o600);
    const db = new Database(dbPath, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.prepare('SELECT version FROM schema_version').pluck().get()).toBe(LATEST_SCHEMA_VERSION);
    } finally {
      db.close();
    }
  });

  it('refuses an empty existing file: it is not taken for a fresh state, and is left as it is', async () => {
    writeFileSync(join(dir, 'empty.db'), '');
    await expect(openAt(join(dir, 'empty.db'))).rejects.toThrow(/is an empty file \(0 bytes\), not a credops state; nothing was changed/);
    expect(readFileSync(join(dir, 'empty.db'), 'utf8')).toBe('');
  });

  it('creates and migrates a new file, and reopening keeps the data without migrating again', async () => {
    const first = await openAt(join(dir, 'new.db'));
    await first.apply({ commit: 'c1', roles: [role('deploy')], sinks: [], mounts: [mount('aws')] });
    await first.close();

    const again = await openAt(join(dir, 'new.db'));
    const applied = await again.getApplied();
    expect(applied.commit).toBe('c1');
    expect(applied.serial).toBe(1);
    expect(applied.roles.map((r) => r.name)).toEqual(['deploy']);
  });

  it('refuses a SQLite database of something else', async () => {
    const db = new Database(join(dir, 'other.db'));
    db.exec('CREATE TABLE photos (id INTEGER)');
    db.close();
    await expect(openAt(join(dir, 'other.db'))).rejects.toThrow(/is a SQLite database of something else \(tables photos\), not a credops state/);
  });

  it('applies new migrations in order, each once, on a state written by an older version', () => {
    const db = new Database(join(dir, 'old.db'));
    try {
      const v1: Migration = { version: 1, description: 'a', sql: 'CREATE TABLE a (x INTEGER)' };
      const v2: Migration = { version: 2, description: 'b', sql: 'CREATE TABLE b (y INTEGER); INSERT INTO a VALUES (1)' };
      expect(migrate(db, 'old', [v1])).toBe(1);
      expect(migrate(db, 'old', [v1, v2])).toBe(2);
      expect(migrate(db, 'old', [v1, v2])).toBe(2);
      expect(db.prepare('SELECT count(*) FROM a').pluck().get()).toBe(1);
    } finally {
      db.close();
    }
  });

  it('rolls back a migration that fails, leaving the version where it was', () => {
    const db = new Database(join(dir, 'bad.db'));
    try {
      const v1: Migration = { version: 1, description: 'a', sql: 'CREATE TABLE a (x INTEGER)' };
      const v2: Migration = { version: 2, description: 'broken', sql: 'CREATE TABLE c (z INTEGER); INSERT INTO nope VALUES (1)' };
      expect(() => migrate(db, 'bad', [v1, v2])).toThrow(/nope/);
      expect(db.prepare('SELECT version FROM schema_version').pluck().get()).toBe(1);
      expect(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'c'").pluck().get()).toBe(0);
    } finally {
      db.close();
    }
  });

  it('refuses a state written by a newer credops, and leaves it unchanged', async () => {
    const store = await openAt();
    await store.apply({ commit: 'c1', roles: [], sinks: [], mounts: [] });
    await store.close();
    const db = new Database(dbPath);
    db.prepare('UPDATE schema_version SET version = ?').run(LATEST_SCHEMA_VERSION + 1);
    db.close();

    const err = await openState(`sqlite://${dbPath}`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toContain(`schema version ${LATEST_SCHEMA_VERSION + 1}`);
    expect((err as Error).message).toMatch(/newer credops/);
    const after = new Database(dbPath, { readonly: true });
    expect(after.prepare('SELECT version FROM schema_version').pluck().get()).toBe(LATEST_SCHEMA_VERSION + 1);
    after.close();
  });

  it('refuses a file that is not a database with a UserError', async () => {
    writeFileSync(join(dir, 'junk.db'), 'this is not sqlite, just some text that is long enough '.repeat(20));
    await expect(openState(`sqlite://${join(dir, 'junk.db')}`)).rejects.toThrow(UserError);
  });
});

describe('applied state', () => {
  it('starts empty at serial 0', async () => {
    const store = await openAt();
    expect(await store.getApplied()).toEqual({ roles: [], sinks: [], mounts: [], serial: 0 });
  });

  it('replaces roles, sinks and mounts, records the commit and time, and increments the serial', async () => {
    const clock = { now: () => 1_700_000_000_000, sleep: async () => {} };
    const store = SqliteStateStore.open(dbPath, { clock });
    open.push(store);
    await store.apply({ commit: 'c1', roles: [role('b'), role('a')], sinks: [sink('s1', 'a')], mounts: [mount('aws')] });
    await store.apply({ commit: 'c2', roles: [role('a', { iam_groups: ['ops'] })], sinks: [], mounts: [mount('aws'), mount('aws-west')] });

    const applied = await store.getApplied();
    expect(applied.commit).toBe('c2');
    expect(applied.appliedAt).toBe(1_700_000_000_000);
    expect(applied.serial).toBe(2);
    expect(applied.roles).toEqual([role('a', { iam_groups: ['ops'] })]);
    expect(applied.sinks).toEqual([]);
    expect(applied.mounts.map((m) => m.name)).toEqual(['aws', 'aws-west']);
  });

  it('keeps the order the roles were applied in', async () => {
    const store = await openAt();
    await store.apply({ commit: 'c1', roles: [role('zeta'), role('alpha'), role('mid')], sinks: [], mounts: [] });
    expect((await store.getApplied()).roles.map((r) => r.name)).toEqual(['zeta', 'alpha', 'mid']);
  });

  it('changes nothing when an apply fails half way', async () => {
    const store = await openAt();
    await store.apply({ commit: 'c1', roles: [role('keep')], sinks: [sink('s', 'keep')], mounts: [mount('aws')] });
    const before = await store.getApplied();

    // The second role collides with the first on (mount, name) after the old rows were deleted and one was inserted.
    await expect(
      store.apply({ commit: 'c2', roles: [role('dup'), role('dup')], sinks: [], mounts: [] }),
    ).rejects.toThrow();
    expect(await store.getApplied()).toEqual(before);
  });

  it('with expectSerial, applies only if nobody applied in between', async () => {
    const store = await openAt();
    await store.apply({ commit: 'c1', roles: [], sinks: [], mounts: [] });
    const planned = (await store.getApplied()).serial;

    const other = await openAt();
    await other.apply({ commit: 'c2', roles: [role('sneaky')], sinks: [], mounts: [] });

    const err = await store.apply({ commit: 'c3', roles: [], sinks: [], mounts: [], expectSerial: planned }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(/state changed since this plan was made.*serial 1.*serial 2/);
    expect((await store.getApplied()).commit).toBe('c2');

    await store.apply({ commit: 'c3', roles: [], sinks: [], mounts: [], expectSerial: 2 });
    expect(await store.getApplied()).toMatchObject({ commit: 'c3', serial: 3, roles: [] });
  });
});

describe('leases', () => {
  it('puts, gets, replaces and deletes a lease', async () => {
    const store = await openAt();
    const l = lease('aws/creds/deploy/abc', { sink: 'ci' });
    await store.putLease(l);
    expect(await store.getLease(l.leaseId)).toEqual(l);

    const renewed = { ...l, expiresAt: l.expiresAt + 3_600_000 };
    await store.putLease(renewed);
    expect(await store.getLease(l.leaseId)).toEqual(renewed);
    expect(await store.listLeases()).toHaveLength(1);

    await store.deleteLease(l.leaseId);
    expect(await store.getLease(l.leaseId)).toBeUndefined();
    await store.deleteLease(l.leaseId);
    expect(await store.listLeases()).toEqual([]);
  });

  it('filters by mount, role and sink', async () => {
    const store = await openAt();
    await store.putLease(lease('aws/creds/deploy/1', { sink: 'ci' }));
    await store.putLease(lease('aws/creds/deploy/2'));
    await store.putLease(lease('aws/sts/reader/3'));
    await store.putLease(lease('aws-west/creds/deploy/4', { sink: 'ci' }));

    const ids = async (f: Parameters<StateStore['listLeases']>[0]) => (await store.listLeases(f)).map((l) => l.leaseId);
    expect(await ids({})).toEqual(['aws-west/creds/deploy/4', 'aws/creds/deploy/1', 'aws/creds/deploy/2', 'aws/sts/reader/3']);
    expect(await ids({ mount: 'aws' })).toEqual(['aws/creds/deploy/1', 'aws/creds/deploy/2', 'aws/sts/reader/3']);
    expect(await ids({ role: 'deploy' })).toEqual(['aws-west/creds/deploy/4', 'aws/creds/deploy/1', 'aws/creds/deploy/2']);
    expect(await ids({ mount: 'aws', role: 'deploy' })).toEqual(['aws/creds/deploy/1', 'aws/creds/deploy/2']);
    expect(await ids({ sink: 'ci' })).toEqual(['aws-west/creds/deploy/4', 'aws/creds/deploy/1']);
    expect(await ids({ prefix: 'aws/creds/deploy', sink: 'ci' })).toEqual(['aws/creds/deploy/1']);
  });

  it('matches a prefix character for character: "_" and "%" are not wildcards', async () => {
    const store = await openAt();
    for (const id of ['aws/creds/my_role/1', 'aws/creds/myXrole/2', 'aws/creds/50%off/3', 'aws/creds/50Xoff/4', 'aws/creds/a*b/5', 'aws/creds/aXb/6', 'aws2/creds/x/7']) {
      await store.putLease(lease(id));
    }
    const ids = async (prefix: string) => (await store.listLeases({ prefix })).map((l) => l.leaseId);
    expect(await ids('aws/creds/my_')).toEqual(['aws/creds/my_role/1']);
    expect(await ids('aws/creds/50%')).toEqual(['aws/creds/50%off/3']);
    expect(await ids('aws/creds/a*')).toEqual(['aws/creds/a*b/5']);
    expect(await ids('AWS/creds')).toEqual([]);
    // Vault's revoke-prefix is a plain string prefix: "aws" also matches the aws2 mount.
    expect(await ids('aws')).toHaveLength(7);
    expect(await ids('aws/')).toHaveLength(6);
  });
});

describe('journal', () => {
  it('records entries in creation order and deletes them', async () => {
    const store = await openAt();
    await store.putJournal(journal('j2', 'aws/creds/deploy/2', 2_000));
    await store.putJournal(journal('j1', 'aws/creds/deploy/1', 1_000));
    expect((await store.listJournal()).map((j) => j.id)).toEqual(['j1', 'j2']);
    expect((await store.listJournal())[0]).toEqual(journal('j1', 'aws/creds/deploy/1', 1_000));

    // Progress through the steps updates the same entry.
    await store.putJournal({ ...journal('j1', 'aws/creds/deploy/1', 1_000), data: { userName: 'u', accessKeyId: 'AKIA1' } });
    expect((await store.listJournal()).find((j) => j.id === 'j1')?.data).toEqual({ userName: 'u', accessKeyId: 'AKIA1' });

    await store.deleteJournal('j2');
    expect((await store.listJournal()).map((j) => j.id)).toEqual(['j1']);
  });

  it('completeJournal turns an entry into a lease in one step', async () => {
    const store = await openAt();
    const l = lease('aws/creds/deploy/1');
    await store.putJournal(journal('j1', l.leaseId));
    await store.completeJournal('j1', l);
    expect(await store.listJournal()).toEqual([]);
    expect(await store.getLease(l.leaseId)).toEqual(l);
  });

  it('completeJournal of an entry already recovered by another run records no lease', async () => {
    const store = await openAt();
    const l = lease('aws/creds/deploy/1');
    await store.putJournal(journal('j1', l.leaseId));
    await store.deleteJournal('j1');
    await expect(store.completeJournal('j1', l)).rejects.toThrow(/j1 not found/);
    expect(await store.getLease(l.leaseId)).toBeUndefined();
  });

  it('completeJournal is atomic: a failing lease write keeps the journal entry', async () => {
    const store = await openAt();
    await store.putJournal(journal('j1', 'aws/creds/deploy/1'));
    const broken = { ...lease('aws/creds/deploy/1'), expiresAt: null } as unknown as ReturnType<typeof lease>;
    await expect(store.completeJournal('j1', broken)).rejects.toThrow();
    expect((await store.listJournal()).map((j) => j.id)).toEqual(['j1']);
    expect(await store.listLeases()).toEqual([]);
  });
});

describe('settings and sink status', () => {
  it('sets, replaces, reads and deletes settings', async () => {
    const store = await openAt();
    expect(await store.getSetting('root/aws')).toBeUndefined();
    await store.setSetting('root/aws', 'blob-1');
    await store.setSetting('root/aws', 'blob-2');
    expect(await store.getSetting('root/aws')).toBe('blob-2');
    await store.deleteSetting('root/aws');
    expect(await store.getSetting('root/aws')).toBeUndefined();
  });

  it('keeps each sink status', async () => {
    const store = await openAt();
    expect(await store.listSinkStatus()).toEqual({});
    expect(await store.getSinkStatus('ci')).toBeUndefined();
    await store.setSinkStatus('ci', { lastAttemptAt: 5, lastError: 'AccessDenied' });
    await store.setSinkStatus('ci', { lastAttemptAt: 6, lastSuccessAt: 6 });
    await store.setSinkStatus('other', { lastAttemptAt: 1 });
    expect(await store.getSinkStatus('ci')).toEqual({ lastAttemptAt: 6, lastSuccessAt: 6 });
    expect(await store.listSinkStatus()).toEqual({ ci: { lastAttemptAt: 6, lastSuccessAt: 6 }, other: { lastAttemptAt: 1 } });
    expect(await store.getSinkStatus('other')).toEqual({ lastAttemptAt: 1 });
  });

  it('persists everything across reopening', async () => {
    const store = await openAt();
    await store.setSetting('k', 'v');
    await store.putLease(lease('aws/creds/deploy/1'));
    await store.putJournal(journal('j', 'aws/creds/deploy/2'));
    await store.setSinkStatus('ci', { lastSuccessAt: 9 });
    await store.close();

    const again = await openAt();
    expect(await again.getSetting('k')).toBe('v');
    expect(await again.getLease('aws/creds/deploy/1')).toEqual(lease('aws/creds/deploy/1'));
    expect((await again.listJournal()).map((j) => j.id)).toEqual(['j']);
    expect(await again.getSinkStatus('ci')).toEqual({ lastSuccessAt: 9 });
  });
});

describe('lock within one process', () => {
  const owner = (operation: string) => ({ pid: process.pid, host: 'this-host', since: Date.parse('2026-11-23T15:40:00Z'), operation });

  it('is exclusive, names its holder, and is free again after release', async () => {
    const a = await openAt();
    const b = await openAt();
    expect(await a.lockHolder()).toBeUndefined();
    const handle = await a.lock(owner('reconcile'), 0);
    expect(await b.lockHolder()).toEqual(owner('reconcile'));

    const started = Date.now();
    const err = await b.lock(owner('lease revoke'), 500).catch((e: unknown) => e);
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect((err as Error).name).toBe('LockError');
    expect((err as Error).message).toContain(
      `state is locked by reconcile (pid ${process.pid} on host this-host, since 2026-11-23T15:40:00Z); waited 0.5s.`,
    );

    await handle.release();
    await handle.release();
    expect(await b.lockHolder()).toBeUndefined();
    const second = await b.lock(owner('lease revoke'), 0);
    expect((await a.lockHolder())?.operation).toBe('lease revoke');
    await second.release();
  });

  it('a waiting lock() gets the lock as soon as the holder releases it', async () => {
    const a = await openAt();
    const b = await openAt();
    const handle = await a.lock(owner('reconcile'), 0);
    setTimeout(() => void handle.release(), 300);
    const next = await b.lock(owner('watch'), 5_000);
    expect((await a.lockHolder())?.operation).toBe('watch');
    await next.release();
  });

  it('a stale handle does not release a lock someone else now holds', async () => {
    const a = await openAt();
    const handle = await a.lock(owner('reconcile'), 0);
    const db = new Database(dbPath);
    db.prepare("UPDATE lock SET token = 'someone-else', operation = 'watch'").run();
    db.close();
    await handle.release();
    expect((await a.lockHolder())?.operation).toBe('watch');
  });

  it('close() releases the locks taken through that store', async () => {
    const a = await openAt();
    await a.lock(owner('reconcile'), 0);
    await a.close();
    const b = await openAt();
    expect(await b.lockHolder()).toBeUndefined();
  });
});
