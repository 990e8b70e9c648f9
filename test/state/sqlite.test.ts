import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { openState } from '../../src/state/index.js';
import { LATEST_SCHEMA_VERSION, migrate, type Migration } from '../../src/state/migrations.js';
import type { StateStore } from '../../src/state/store.js';
import { mount, role, sink } from './fixtures.js';

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

// What every backend promises (applied state, leases, journal, settings, sink
// status, the lock) is in contract.test.ts; what is SQLite's own is here.

describe('applied state (SQLite)', () => {
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

});

describe('lock (SQLite)', () => {
  const owner = (operation: string) => ({ pid: process.pid, host: 'this-host', since: Date.parse('2026-11-23T15:40:00Z'), operation });

  it('a stale handle does not release a lock someone else now holds', async () => {
    const a = await openAt();
    const handle = await a.lock(owner('reconcile'), 0);
    const db = new Database(dbPath);
    db.prepare("UPDATE lock SET token = 'someone-else', operation = 'watch'").run();
    db.close();
    await handle.release();
    expect((await a.lockHolder())?.operation).toBe('watch');
  });
});
