import { formatDuration } from '../duration.js';
import { UserError } from '../errors.js';
import type { AccessSpec, AppliedSnapshot, JournalEntry, Lease, MountConfig, RoleSpec, SinkSpec, StaticRoleSpec } from '../model/types.js';

/**
 * The state: what was applied, the live leases, the journal of in-flight AWS
 * writes, settings (encrypted root keys) and the writer lock.
 *
 * Kept narrow and asynchronous on purpose, so that a DynamoDB backend can
 * implement it with conditional writes: every method is one atomic operation.
 * Nothing secret is ever passed in, except setSetting values that the caller
 * has already encrypted.
 */
export interface StateStore {
  readonly url: string;
  /**
   * The state's identity: random, created with the state, never changed (a
   * migration to another backend keeps it). What a sink's target records as
   * its owner, so that another state never takes it over unawares.
   */
  readonly id: string;
  /**
   * Set when `credops state migrate` moved this state elsewhere. openState()
   * refuses such a state (unless asked to show it), so a forgotten CI job
   * cannot fork the state.
   */
  readonly movedTo?: MovedMarker;

  /** The last applied desired state. */
  getApplied(): Promise<AppliedSnapshot>;
  /** Replaces the applied roles, sinks and mounts and records the commit, atomically; increments serial. */
  apply(change: AppliedChange): Promise<void>;

  putLease(lease: Lease): Promise<void>;
  getLease(leaseId: string): Promise<Lease | undefined>;
  listLeases(filter?: LeaseFilter): Promise<Lease[]>;
  /** Every lease and every sink status, in as few reads as the backend can (plan reads both). */
  listLeasesAndSinkStatus(): Promise<{ leases: Lease[]; sinkStatus: Record<string, SinkStatus> }>;
  deleteLease(leaseId: string): Promise<void>;

  /** Records an AWS write about to happen. */
  putJournal(entry: JournalEntry): Promise<void>;
  listJournal(): Promise<JournalEntry[]>;
  deleteJournal(id: string): Promise<void>;
  /** Atomically turns a journal entry into a lease (the write succeeded and was handed out). */
  completeJournal(id: string, lease: Lease): Promise<void>;

  getSetting(key: string): Promise<string | undefined>;
  setSetting(key: string, value: string): Promise<void>;
  deleteSetting(key: string): Promise<void>;
  /** Every setting whose key starts with prefix (credops server's tokens), by key. */
  listSettings(prefix: string): Promise<Record<string, string>>;

  /**
   * credops server's caps: adds delta to the counter `key` in one atomic
   * step (a conditional write), unless the result would leave [min, max]; then
   * nothing changes and the answer is false. A counter given expiresAt (a rate
   * window, named by its key) reads 0 after it, and may be dropped by the
   * backend; the caller deletes windows it is done with. Counters are not part
   * of exportAll: the server counts them again from the leases.
   */
  addToCounter(key: string, delta: number, bounds?: CounterBounds): Promise<boolean>;
  /** The counter's value; 0 when it does not exist or its window has passed. */
  getCounter(key: string): Promise<number>;
  /** Sets a counter without expiry to value if it is still `expected` (a recount); false when it moved meanwhile. */
  setCounter(key: string, value: number, expected: number): Promise<boolean>;
  deleteCounter(key: string): Promise<void>;

  /** Per-sink status for `credops status`. */
  getSinkStatus(name: string): Promise<SinkStatus | undefined>;
  setSinkStatus(name: string, status: SinkStatus): Promise<void>;
  /** Every sink status, by sink name (including sinks no longer in the repo whose cleanup is pending). */
  listSinkStatus(): Promise<Record<string, SinkStatus>>;

  /**
   * The single-writer lock (DESIGN invariant 5). Waits up to timeoutMs for a
   * holder to release it, then throws LockError naming the holder. A lock left
   * by a dead process on the same host is taken over.
   */
  lock(owner: LockOwner, timeoutMs: number): Promise<LockHandle>;
  /** Who holds the lock now, if anyone. */
  lockHolder(): Promise<LockOwner | undefined>;
  /**
   * Before a write outside the state that only the lock holder may make (a
   * sink publish): confirms that the lock this store took is still its own,
   * and throws LockLostError naming `what` if it was taken over. Does nothing
   * when this store holds no lock.
   */
  ensureLocked(what: string): Promise<void>;
  /** Removes the lock whose id is lockId (Terraform's force-unlock); false when no such lock is held. */
  forceUnlock(lockId: string): Promise<boolean>;

  /** Everything the state holds, for `credops state migrate`; root keys stay ciphertext. */
  exportAll(): Promise<StateDump>;
  /** Writes a dump into this state, which must be empty (never applied, no leases, journal, settings or sinks). */
  importAll(dump: StateDump): Promise<void>;
  /** Marks this state as moved to url: every later open refuses it, naming url. */
  markMoved(url: string): Promise<void>;

  close(): Promise<void>;
}

export interface CounterBounds {
  max?: number;
  min?: number;
  /** Epoch ms: the counter (a rate window) reads 0 after this. */
  expiresAt?: number;
}

export interface AppliedChange {
  commit: string;
  roles: RoleSpec[];
  /** Absent means none. */
  staticRoles?: StaticRoleSpec[];
  sinks: SinkSpec[];
  mounts: MountConfig[];
  /** credops server's auth methods and ACL policies; absent means none. */
  access?: AccessSpec;
  /** When set, the apply fails unless the state's serial is still this (saved plans). */
  expectSerial?: number;
}

export interface LeaseFilter {
  /** Vault-style prefix on the lease id, e.g. "aws/creds/deploy". */
  prefix?: string;
  mount?: string;
  role?: string;
  sink?: string;
  /** Leases due by this time (epoch ms): expiresAt, or revokeAt of a replaced credential, at or before it. */
  dueBy?: number;
}

/** A lease is due for revocation at its expiry, or earlier at the revokeAt of a replaced credential. */
export function leaseDueAt(lease: Lease): number {
  return lease.revokeAt !== undefined ? Math.min(lease.expiresAt, lease.revokeAt) : lease.expiresAt;
}

/** Where a moved state went. */
export interface MovedMarker {
  url: string;
  /** Epoch ms. */
  at: number;
}

/** Everything in a state (StateStore.exportAll): the applied snapshot and what lives beside it. */
export interface StateDump extends AppliedSnapshot {
  id: string;
  leases: Lease[];
  journal: JournalEntry[];
  /** Settings by key; values as stored (root keys encrypted). */
  settings: Record<string, string>;
  sinkStatus: Record<string, SinkStatus>;
}

/** A dump of the applied snapshot and everything live beside it; how both backends' exportAll build it. */
export function stateDump(id: string, applied: AppliedSnapshot, live: Pick<StateDump, 'leases' | 'journal' | 'settings' | 'sinkStatus'>): StateDump {
  return { id, ...applied, ...live };
}

export interface SinkStatus {
  lastAttemptAt?: number;
  lastSuccessAt?: number;
  lastError?: string;
  /** Failed attempts in a row since the last success (src/reconcile/lifecycle.ts backoff). */
  failures?: number;
  /** No new attempt before this (epoch ms), unless the sink or its role changes. */
  nextAttemptAt?: number;
  /** The sink and role (fingerprints) the failures were for: a change is worth trying at once. */
  failedFor?: string;
  /** What the sink holds now (src/reconcile/lifecycle.ts). Never a secret. */
  published?: PublishedSink;
}

/** The credential last published to a sink, and what it was issued for. */
export interface PublishedSink {
  leaseId: string;
  /** Epoch ms. */
  at: number;
  /** The sink's describe() when published: where the credential is. */
  target: string;
  /** The sink as it was when published: a change in it or its role means a new credential. */
  spec: SinkSpec;
  /** The lease's TTL in seconds when issued: what a renewal asks for when the sink sets no ttl. */
  ttl: number;
  /** Fingerprint of the role fields that a credential carries (ROLE_FIELDS_THAT_ROTATE). */
  role?: string;
  /** A static sink: the access key it holds (never the secret). */
  accessKeyId?: string;
}

export interface LockOwner {
  pid: number;
  host: string;
  /** Epoch ms when the lock was taken. */
  since: number;
  /** What holds it: "reconcile", "lease revoke", ... */
  operation: string;
  /** The lock's id, for `credops state unlock --force ID`; set when read from the state. */
  id?: string;
  /** Epoch ms after which another run may take the lock over (backends whose locks expire). */
  expiresAt?: number;
}

export interface LockHandle {
  release(): Promise<void>;
}

/** The state does not exist, and the caller asked not to create it. */
export class NoStateError extends UserError {
  override readonly name = 'NoStateError';
  constructor(readonly location: string) {
    super(`there is no state at ${location}`);
  }
}

/** `reconcile (pid 42 on host ci-7, since 2026-11-23T15:40:00Z)`: a lock holder, as every backend's lock error names it. */
export function describeHolder(o: LockOwner): string {
  const since = new Date(o.since).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return `${o.operation} (pid ${o.pid} on host ${o.host}, since ${since})`;
}

/** "30s", "2m30s"; tenths under a minute so that a short --lock-timeout does not read "waited 0s". */
export function formatWait(ms: number): string {
  const tenths = Math.round(ms / 100) / 10;
  return tenths < 60 && !Number.isInteger(tenths) ? `${tenths}s` : formatDuration(Math.round(tenths));
}
