import type Database from 'better-sqlite3';
import { UserError } from '../errors.js';

/** One schema step of the SQLite state. Versions are consecutive from 1; never edit a released one, add the next. */
export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'applied roles/sinks/mounts, meta, leases, journal, settings, sink status, lock',
    sql: `
      CREATE TABLE meta (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        commit_sha  TEXT,
        applied_at  INTEGER,
        serial      INTEGER NOT NULL DEFAULT 0
      );
      INSERT INTO meta (id, serial) VALUES (1, 0);

      CREATE TABLE roles (
        mount     TEXT NOT NULL,
        name      TEXT NOT NULL,
        position  INTEGER NOT NULL,
        spec      TEXT NOT NULL CHECK (json_valid(spec)),
        PRIMARY KEY (mount, name)
      );
      CREATE TABLE sinks (
        name      TEXT PRIMARY KEY,
        position  INTEGER NOT NULL,
        spec      TEXT NOT NULL CHECK (json_valid(spec))
      );
      CREATE TABLE mounts (
        name      TEXT PRIMARY KEY,
        position  INTEGER NOT NULL,
        spec      TEXT NOT NULL CHECK (json_valid(spec))
      );

      CREATE TABLE leases (
        lease_id         TEXT PRIMARY KEY,
        mount            TEXT NOT NULL,
        role             TEXT NOT NULL,
        sink             TEXT,
        credential_type  TEXT NOT NULL,
        expires_at       INTEGER NOT NULL,
        data             TEXT NOT NULL CHECK (json_valid(data))
      );
      CREATE INDEX leases_mount_role ON leases (mount, role);
      CREATE INDEX leases_role ON leases (role);
      CREATE INDEX leases_sink ON leases (sink);
      CREATE INDEX leases_expires_at ON leases (expires_at);

      CREATE TABLE journal (
        id          TEXT PRIMARY KEY,
        lease_id    TEXT NOT NULL,
        mount       TEXT NOT NULL,
        role        TEXT NOT NULL,
        kind        TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        data        TEXT NOT NULL CHECK (json_valid(data))
      );

      CREATE TABLE settings (
        key    TEXT PRIMARY KEY,
        value  TEXT NOT NULL
      );

      CREATE TABLE sink_status (
        name  TEXT PRIMARY KEY,
        data  TEXT NOT NULL CHECK (json_valid(data))
      );

      CREATE TABLE lock (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        token      TEXT NOT NULL,
        pid        INTEGER NOT NULL,
        host       TEXT NOT NULL,
        since      INTEGER NOT NULL,
        operation  TEXT NOT NULL,
        boot_id    TEXT,
        pid_ns     TEXT
      );
    `,
  },
  {
    version: 2,
    description: "the state's identity: a random id, created with it, that sinks record as their owner",
    sql: `
      ALTER TABLE meta ADD COLUMN state_id TEXT;
      UPDATE meta SET state_id = lower(hex(randomblob(16))) WHERE id = 1;
    `,
  },
  {
    version: 3,
    description: 'static roles (static-roles/NAME.json) in the applied snapshot',
    sql: `
      CREATE TABLE static_roles (
        mount TEXT NOT NULL,
        name TEXT NOT NULL,
        position INTEGER NOT NULL,
        spec TEXT NOT NULL,
        PRIMARY KEY (mount, name)
      );
    `,
  },
  {
    version: 4,
    description: 'credops server: auth and ACL in the applied snapshot, journal entries of lock-free issuance, cap counters',
    sql: `
      ALTER TABLE meta ADD COLUMN access TEXT;
      ALTER TABLE journal ADD COLUMN live_until INTEGER;
      CREATE TABLE counters (
        key         TEXT PRIMARY KEY,
        value       INTEGER NOT NULL,
        expires_at  INTEGER
      );
    `,
  },
];

export const LATEST_SCHEMA_VERSION = SQLITE_MIGRATIONS.length;

/**
 * Brings the database up to LATEST_SCHEMA_VERSION, one transaction per
 * migration. BEGIN IMMEDIATE takes the write lock before the version is read,
 * so two processes opening a fresh state at once cannot both run a migration.
 * A state written by a newer credops is refused rather than guessed at.
 */
export function migrate(db: Database.Database, where: string, migrations: readonly Migration[] = SQLITE_MIGRATIONS): number {
  const latest = migrations.length;
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`bug: migration ${i} has version ${m.version}; versions must be consecutive from 1`);
  });

  db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
    if (db.prepare('SELECT count(*) AS n FROM schema_version').pluck().get() === 0) {
      db.prepare('INSERT INTO schema_version (version) VALUES (0)').run();
    }
  }).immediate();

  for (;;) {
    const step = db.transaction((): boolean => {
      const current = currentVersion(db);
      if (current > latest) {
        throw new UserError(
          `the state ${where} was written by a newer credops (schema version ${current}; this credops knows up to ${latest}). ` +
            'Upgrade credops to use it; it was left unchanged.',
        );
      }
      const next = migrations[current];
      if (!next) return false;
      db.exec(next.sql);
      db.prepare('UPDATE schema_version SET version = ?').run(next.version);
      return true;
    });
    if (!step.immediate()) return latest;
  }
}

export function currentVersion(db: Database.Database): number {
  const v = db.prepare('SELECT max(version) FROM schema_version').pluck().get();
  return typeof v === 'number' ? v : 0;
}
