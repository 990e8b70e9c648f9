import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ResourceNotFoundException,
  UpdateItemCommand,
  type AttributeValue,
  type QueryCommandInput,
} from '@aws-sdk/client-dynamodb';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import { formatDuration } from '../duration.js';
import { errorMessage, LockError, LockLostError, UserError } from '../errors.js';
import type { AccessSpec, AppliedSnapshot, JournalEntry, Lease, MountConfig, RoleSpec, SinkSpec, StaticRoleSpec } from '../model/types.js';
import { DYNAMODB_LEASE_INDEX, type DynamoLocation } from './dynamodb-location.js';
import { describeHolder, formatWait, leaseDueAt, NoStateError, stateDump, type AppliedChange, type CounterBounds, type LeaseFilter, type LockHandle, type LockOwner, type MovedMarker, type SinkStatus, type StateDump, type StateStore } from './store.js';

/**
 * The DynamoDB backend of StateStore (issue #10).
 *
 * One table holds any number of states; each is the partition `pk = KEY`
 * (Terraform's `key`). Only single-item conditional writes are used, never
 * TransactWriteItems, so it also runs on DynamoDB-compatible engines without
 * transactions. The items of a state, by sort key:
 *
 *   head                     id, serial, the current generation, the lock, the fence counter
 *   gen#GEN#00000 ...        the applied snapshot (roles, sinks, mounts) of one generation,
 *                            gzipped JSON in chunks under the 400 KB item limit
 *   journal#ID               an in-flight AWS write
 *   lease#LEASE_ID           a lease; `due` and `state` feed the expiry index
 *   setting#KEY              a setting (root keys as ciphertext)
 *   sinkstatus#NAME          a sink's status, fenced by the lock that wrote it
 *
 * An apply writes a new generation's chunks, then makes it current with one
 * conditional update of the head (serial and lock token as expected): a crash
 * at any point leaves the old or the new snapshot, never a mix. Leases, then
 * sink statuses, sort next to each other, so one Query reads both (plan).
 */

/** Gzipped snapshot bytes per chunk item: well under 400 KB, three to a 1 MB Query page. */
export const CHUNK_BYTES = 300 * 1024;
/** How long a lock lives without renewal. A holder renews it every third of that. */
export const DEFAULT_LOCK_TTL_MS = 60_000;
const LOCK_POLL_MS = 500;
const COUNTER = 'counter#';
const HEAD = 'head';
const GEN = 'gen#';
const JOURNAL = 'journal#';
const LEASE = 'lease#';
const SETTING = 'setting#';
const SINK = 'sinkstatus#';
/** What one Query reads for plan: leases, settings, sink statuses (in sort-key order; "$" follows "#"). */
const LIVE_FIRST = LEASE;
const LIVE_LAST = 'sinkstatus$';
const CHUNK_DIGITS = 5;

export interface DynamoOptions {
  clock?: Clock;
  /** Create the head item when the state does not exist yet (default true). */
  create?: boolean;
  /** The first getApplied() uses the head read at open (OpenStateOptions.readOnce). */
  reuseOpenRead?: boolean;
}

/** The head item, decoded. */
interface Head {
  id: string;
  serial: number;
  generation?: string;
  chunks: number;
  bytes: number;
  sha256?: string;
  previous?: string;
  commit?: string;
  appliedAt?: number;
  fence: number;
  lock?: LockOwner & { id: string; expiresAt: number };
  movedTo?: MovedMarker;
}

interface HeldLock {
  token: string;
  fence: number;
  ttl: number;
  /** Wall clock and monotonic clock of the last successful renewal. */
  renewedAt: number;
  renewedMono: number;
  lost?: string;
  timer: NodeJS.Timeout;
}

/** Counts requests by DynamoDB operation (for `npm run bench:state` and `state show`). */
export type RequestCounts = Record<string, number>;

export class DynamoStateStore implements StateStore {
  readonly url: string;
  id: string;
  readonly movedTo?: MovedMarker;
  /** Requests sent, by operation (GetItem, Query, PutItem, ...): `npm run bench:state` prints them. */
  readonly requests: RequestCounts;
  private readonly client: DynamoDBClient;
  private readonly table: string;
  private readonly key: string;
  private readonly clock: Clock;
  private readonly lockTtl: number;
  private held: HeldLock | undefined;
  /**
   * A head read that the next getApplied() may use instead of reading again:
   * the one read at open for a read-once caller, or the one the lock update
   * returned (nobody else can apply while the lock is held).
   */
  private openedHead: Head | undefined;
  /** The last snapshot read or written, by generation (its JSON: every reader gets its own objects). */
  private cached: { generation: string; json: string } | undefined;

  private constructor(client: DynamoDBClient, where: DynamoLocation, head: Head, clock: Clock, requests: RequestCounts) {
    this.client = client;
    this.requests = requests;
    this.url = where.url;
    this.table = where.table;
    this.key = where.key;
    this.clock = clock;
    this.lockTtl = where.lockTtlMs ?? DEFAULT_LOCK_TTL_MS;
    this.id = head.id;
    if (head.movedTo) this.movedTo = head.movedTo;
    this.openedHead = head;
  }

  static async open(where: DynamoLocation, options: DynamoOptions = {}): Promise<DynamoStateStore> {
    const requests: RequestCounts = {};
    const client = dynamoClient(where, requests);
    const clock = options.clock ?? systemClock;
    try {
      let head = await readHead(client, where);
      if (!head) {
        if (options.create === false) {
          throw new NoStateError(where.url);
        }
        head = await createHead(client, where, clock);
      }
      const store = new DynamoStateStore(client, where, head, clock, requests);
      if (!options.reuseOpenRead) store.openedHead = undefined;
      return store;
    } catch (err) {
      client.destroy();
      throw err;
    }
  }

  // ---- applied desired state ---------------------------------------------------

  async getApplied(): Promise<AppliedSnapshot> {
    let head = this.openedHead ?? (await this.head());
    this.openedHead = undefined;
    // A generation is deleted only two applies after it stopped being current, so
    // a reader rarely finds it gone; when it does, the head has moved on: read again.
    for (let attempt = 1; ; attempt++) {
      const json = await this.generationJson(head);
      if (json !== undefined) return snapshotOf(head, json);
      if (attempt === 3) throw new Error(`bug: generation ${head.generation} of ${this.url} is incomplete after 3 reads`);
      head = await this.head();
    }
  }

  async apply(change: AppliedChange): Promise<void> {
    await this.ensureLock('apply the plan');
    this.openedHead = undefined;
    const head = await this.head();
    if (change.expectSerial !== undefined && change.expectSerial !== head.serial) {
      throw new UserError(
        `the state changed since this plan was made (plan made at serial ${change.expectSerial}, state is now at serial ${head.serial}); ` +
          'run plan again and apply the new plan',
      );
    }
    const json = JSON.stringify({ roles: change.roles, staticRoles: change.staticRoles ?? [], sinks: change.sinks, mounts: change.mounts, ...(change.access ? { access: change.access } : {}) });
    const body = gzipSync(json);
    const generation = `${head.serial + 1}-${randomBytes(6).toString('hex')}`;
    const chunks = Math.max(1, Math.ceil(body.length / CHUNK_BYTES));
    for (let i = 0; i < chunks; i++) {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: { pk: s(this.key), sk: s(chunkKey(generation, i)), data: { B: body.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES) } },
        }),
      );
    }
    const values: Record<string, AttributeValue> = {
      ':serial': n(head.serial),
      ':next': n(head.serial + 1),
      ':gen': s(generation),
      ':chunks': n(chunks),
      ':bytes': n(body.length),
      ':sha': s(sha256(body)),
      ':commit': s(change.commit),
      ':at': n(this.clock.now()),
      ':prev': s(head.generation ?? ''),
    };
    let condition = '#serial = :serial';
    if (this.held) {
      condition += ' AND #lock_token = :token';
      values[':token'] = s(this.held.token);
    }
    try {
      await this.update(
        HEAD,
        'SET #serial = :next, #generation = :gen, #chunks = :chunks, #bytes = :bytes, #sha256 = :sha, #commit_sha = :commit, #applied_at = :at, #previous = :prev',
        condition,
        values,
      );
    } catch (err) {
      await this.deleteGeneration(generation, chunks).catch(() => undefined);
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      const now = await this.head();
      if (this.held && now.lock?.id !== this.held.token) throw this.lockLost('apply the plan', now);
      throw new UserError(`the state ${this.url} was applied by another run while this one applied (serial ${head.serial} became ${now.serial}); run again`);
    }
    this.cached = { generation, json };
    // Keep the generation just replaced for readers that read the old head; delete any older ones.
    await this.deleteGenerationsExcept([generation, head.generation ?? '']).catch(() => undefined);
  }

  // ---- leases ------------------------------------------------------------------

  async putLease(lease: Lease): Promise<void> {
    // Never refused, even after a lock takeover: what exists in AWS must be recorded.
    await this.client.send(new PutItemCommand({ TableName: this.table, Item: this.leaseItem(lease) }));
  }

  async getLease(leaseId: string): Promise<Lease | undefined> {
    const out = await this.client.send(new GetItemCommand({ TableName: this.table, Key: this.itemKey(LEASE + leaseId), ConsistentRead: true }));
    return out.Item ? (JSON.parse(str(out.Item.data)) as Lease) : undefined;
  }

  async listLeases(filter: LeaseFilter = {}): Promise<Lease[]> {
    let leases: Lease[];
    if (filter.dueBy !== undefined) {
      // The expiry index: no Scan, and no read of leases not yet due. Index reads
      // are eventually consistent; each due lease is read again before it is revoked.
      const items = await this.query({
        IndexName: DYNAMODB_LEASE_INDEX,
        KeyConditionExpression: '#state = :state AND #due <= :due',
        ExpressionAttributeNames: { '#state': 'state', '#due': 'due' },
        ExpressionAttributeValues: { ':state': s(this.key), ':due': n(filter.dueBy) },
      });
      leases = items.map((i) => JSON.parse(str(i.data)) as Lease);
    } else {
      leases = (await this.queryPrefix(LEASE + (filter.prefix ?? ''))).map((i) => JSON.parse(str(i.data)) as Lease);
    }
    const dueBy = filter.dueBy;
    return leases
      .filter(
        (l) =>
          (filter.prefix === undefined || l.leaseId.startsWith(filter.prefix)) &&
          (filter.mount === undefined || l.mount === filter.mount) &&
          (filter.role === undefined || l.role === filter.role) &&
          (filter.sink === undefined || l.sink === filter.sink) &&
          (dueBy === undefined || leaseDueAt(l) <= dueBy),
      )
      .sort((a, b) => (a.leaseId < b.leaseId ? -1 : a.leaseId > b.leaseId ? 1 : 0));
  }

  async listLeasesAndSinkStatus(): Promise<{ leases: Lease[]; sinkStatus: Record<string, SinkStatus> }> {
    const items = await this.query({
      KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :first AND :last',
      ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
      ExpressionAttributeValues: { ':pk': s(this.key), ':first': s(LIVE_FIRST), ':last': s(LIVE_LAST) },
      ConsistentRead: true,
    });
    const leases: Lease[] = [];
    const sinkStatus: Record<string, SinkStatus> = {};
    for (const item of items) {
      const sk = str(item.sk);
      if (sk.startsWith(LEASE)) leases.push(JSON.parse(str(item.data)) as Lease);
      else if (sk.startsWith(SINK)) sinkStatus[sk.slice(SINK.length)] = JSON.parse(str(item.data)) as SinkStatus;
    }
    return { leases, sinkStatus };
  }

  async deleteLease(leaseId: string): Promise<void> {
    await this.client.send(new DeleteItemCommand({ TableName: this.table, Key: this.itemKey(LEASE + leaseId) }));
  }

  // ---- journal -----------------------------------------------------------------

  async putJournal(entry: JournalEntry): Promise<void> {
    // The entry announces an AWS write: a run whose lock was taken over must not make one.
    await this.ensureLocked('start an AWS write');
    await this.putData(JOURNAL + entry.id, JSON.stringify(entry));
  }

  async listJournal(): Promise<JournalEntry[]> {
    const entries = (await this.queryPrefix(JOURNAL)).map((i) => JSON.parse(str(i.data)) as JournalEntry);
    return entries.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async deleteJournal(id: string): Promise<void> {
    await this.client.send(new DeleteItemCommand({ TableName: this.table, Key: this.itemKey(JOURNAL + id) }));
  }

  /**
   * Put the lease, then delete the entry (no transaction): recovery already
   * takes an entry whose lease exists for a completed write. An entry that is
   * gone was rolled back by another run's recovery: the lease is taken back out.
   */
  async completeJournal(id: string, lease: Lease): Promise<void> {
    await this.putLease(lease);
    try {
      await this.client.send(
        new DeleteItemCommand({ TableName: this.table, Key: this.itemKey(JOURNAL + id), ConditionExpression: 'attribute_exists(#pk)', ExpressionAttributeNames: { '#pk': 'pk' } }),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      await this.deleteLease(lease.leaseId);
      throw new Error(`bug: journal entry ${id} not found; it was recovered by another run`);
    }
  }

  // ---- counters (credops server's caps) -----------------------------------------

  /**
   * One UpdateItem whose condition is the bound: two replicas adding at once
   * are serialised by DynamoDB, and the one that would pass the bound fails its
   * condition. `expires` is the table's TTL attribute where TTL is enabled.
   */
  async addToCounter(key: string, delta: number, bounds: CounterBounds = {}): Promise<boolean> {
    if (bounds.max !== undefined && delta > bounds.max) return false;
    const values: Record<string, AttributeValue> = { ':delta': n(delta), ':zero': n(0) };
    const conditions: string[] = [];
    if (bounds.max !== undefined) {
      values[':high'] = n(bounds.max - delta);
      conditions.push('(attribute_not_exists(#value) OR #value <= :high)');
    }
    if (bounds.min !== undefined) {
      values[':low'] = n(bounds.min - delta);
      conditions.push(bounds.min - delta <= 0 ? '(attribute_not_exists(#value) OR #value >= :low)' : '#value >= :low');
    }
    let update = 'SET #value = if_not_exists(#value, :zero) + :delta';
    if (bounds.expiresAt !== undefined) {
      // `expires` in seconds for the table's TTL (where enabled); `expires_ms` for reads.
      update += ', #expires = :expires, #expires_ms = :expires_ms';
      values[':expires'] = n(Math.ceil(bounds.expiresAt / 1000));
      values[':expires_ms'] = n(bounds.expiresAt);
    }
    try {
      await this.update(COUNTER + key, update, conditions.length ? conditions.join(' AND ') : undefined, values);
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  async getCounter(key: string): Promise<number> {
    const out = await this.client.send(new GetItemCommand({ TableName: this.table, Key: this.itemKey(COUNTER + key), ConsistentRead: true }));
    const expires = num(out.Item?.expires_ms);
    if (!out.Item || (expires !== undefined && expires <= this.clock.now())) return 0;
    return num(out.Item.value) ?? 0;
  }

  async setCounter(key: string, value: number, expected: number): Promise<boolean> {
    try {
      await this.update(
        COUNTER + key,
        'SET #value = :value REMOVE #expires, #expires_ms',
        expected === 0 ? '(attribute_not_exists(#value) OR #value = :expected)' : '#value = :expected',
        { ':value': n(value), ':expected': n(expected) },
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  async deleteCounter(key: string): Promise<void> {
    await this.client.send(new DeleteItemCommand({ TableName: this.table, Key: this.itemKey(COUNTER + key) }));
  }

  // ---- settings and sink status ----------------------------------------------

  async getSetting(key: string): Promise<string | undefined> {
    const out = await this.client.send(new GetItemCommand({ TableName: this.table, Key: this.itemKey(SETTING + key), ConsistentRead: true }));
    return out.Item ? str(out.Item.data) : undefined;
  }

  async listSettings(prefix: string): Promise<Record<string, string>> {
    const items = await this.queryPrefix(SETTING + prefix);
    return Object.fromEntries(items.map((i) => [str(i.sk).slice(SETTING.length), str(i.data)]));
  }

  async setSetting(key: string, value: string): Promise<void> {
    await this.putData(SETTING + key, value);
  }

  async deleteSetting(key: string): Promise<void> {
    await this.client.send(new DeleteItemCommand({ TableName: this.table, Key: this.itemKey(SETTING + key) }));
  }

  async getSinkStatus(name: string): Promise<SinkStatus | undefined> {
    const out = await this.client.send(new GetItemCommand({ TableName: this.table, Key: this.itemKey(SINK + name), ConsistentRead: true }));
    return out.Item ? (JSON.parse(str(out.Item.data)) as SinkStatus) : undefined;
  }

  async listSinkStatus(): Promise<Record<string, SinkStatus>> {
    const items = await this.queryPrefix(SINK);
    return Object.fromEntries(items.map((i) => [str(i.sk).slice(SINK.length), JSON.parse(str(i.data)) as SinkStatus]));
  }

  /**
   * Fenced: written only by a run that still holds its lock (one read of the
   * head confirms it), and never over a status written under a later lock (a
   * higher fence), so a paused run that wakes after a takeover cannot rebind a
   * sink even if it was paused between that read and this write.
   */
  async setSinkStatus(name: string, status: SinkStatus): Promise<void> {
    await this.ensureLocked(`record sink ${name}`);
    const item: Record<string, AttributeValue> = { ...this.itemKey(SINK + name), data: s(JSON.stringify(status)) };
    const fence = this.held?.fence;
    if (fence === undefined) {
      await this.client.send(new PutItemCommand({ TableName: this.table, Item: item }));
      return;
    }
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: { ...item, fence: n(fence) },
          ConditionExpression: 'attribute_not_exists(#fence) OR #fence <= :fence',
          ExpressionAttributeNames: { '#fence': 'fence' },
          ExpressionAttributeValues: { ':fence': n(fence) },
        }),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      throw this.lockLost(`record sink ${name}`, await this.head());
    }
  }

  // ---- lock --------------------------------------------------------------------

  async lock(owner: LockOwner, timeoutMs: number): Promise<LockHandle> {
    if (this.held) throw new Error('bug: this state store already holds the lock');
    const token = randomUUID();
    const limit = Number.isNaN(timeoutMs) ? 0 : Math.max(0, timeoutMs);
    const started = Date.now();
    let fence: number;
    for (;;) {
      const now = Date.now();
      try {
        const out = await this.update(
          HEAD,
          'SET #lock_token = :token, #lock_pid = :pid, #lock_host = :host, #lock_since = :since, #lock_operation = :op, #lock_expires = :expires, #fence = #fence + :one',
          'attribute_exists(#pk) AND (attribute_not_exists(#lock_token) OR #lock_expires < :now)',
          {
              ':token': s(token),
              ':pid': n(owner.pid),
              ':host': s(owner.host),
              ':since': n(owner.since),
              ':op': s(owner.operation),
              ':expires': n(now + this.lockTtl),
              ':now': n(now),
              ':one': n(1),
          },
          true,
        );
        fence = Number(out.Attributes?.fence?.N ?? 0);
        // The head as the lock found it: the lock holder's first read of the applied state needs no other.
        if (out.Attributes) this.openedHead = decodeHead(out.Attributes);
        break;
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
      }
      const holder = (await this.head()).lock;
      const waited = Date.now() - started;
      if (holder && waited >= limit) {
        const expires = new Date(holder.expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z');
        throw new LockError(
          `state is locked by ${describeHolder(holder)}; waited ${formatWait(waited)}. Its lock expires at ${expires} unless that run renews it. ` +
            `Wait for that run to finish, or raise --lock-timeout. If that run is gone for good, remove the lock: credops state unlock --force ${holder.id} --state ${this.url}`,
        );
      }
      if (holder) await new Promise((resolve) => setTimeout(resolve, Math.min(LOCK_POLL_MS, Math.max(0, limit - waited))));
    }

    const held: HeldLock = {
      token,
      fence,
      ttl: this.lockTtl,
      renewedAt: Date.now(),
      renewedMono: performance.now(),
      timer: setInterval(() => void this.renew(held).catch(() => undefined), Math.max(100, Math.floor(this.lockTtl / 3))),
    };
    held.timer.unref();
    this.held = held;
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        await this.release(held);
      },
    };
  }

  async lockHolder(): Promise<LockOwner | undefined> {
    return (await this.head()).lock;
  }

  async ensureLocked(what: string): Promise<void> {
    const held = this.held;
    if (!held) return;
    await this.ensureLock(what);
    const head = await this.head();
    if (head.lock?.id !== held.token) throw this.lockLost(what, head);
  }

  async forceUnlock(lockId: string): Promise<boolean> {
    try {
      await this.update(HEAD, 'REMOVE #lock_token, #lock_pid, #lock_host, #lock_since, #lock_operation, #lock_expires', '#lock_token = :token', { ':token': s(lockId) });
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  /** Extends the lock; a takeover (another token in the head) marks it lost. */
  private async renew(held: HeldLock): Promise<void> {
    if (held.lost || this.held !== held) return;
    const now = Date.now();
    try {
      await this.update(HEAD, 'SET #lock_expires = :expires', '#lock_token = :token', { ':token': s(held.token), ':expires': n(now + held.ttl) });
      held.renewedAt = now;
      held.renewedMono = performance.now();
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) held.lost = 'another run took the lock over';
      else throw err;
    }
  }

  /**
   * Before a write only the lock holder may make: refuses when the lock was
   * taken over, and renews it first when it has gone unrenewed for half its
   * life (a paused process, a long GC), so that a run never writes on a lock
   * that may already be someone else's.
   */
  private async ensureLock(what: string): Promise<void> {
    const held = this.held;
    if (!held) return;
    const age = Math.max(Date.now() - held.renewedAt, performance.now() - held.renewedMono);
    if (!held.lost && age > held.ttl / 2) await this.renew(held).catch((err: unknown) => {
      if (age > held.ttl) held.lost = `it could not be renewed for ${formatDuration(Math.round(age / 1000))}: ${errorMessage(err)}`;
    });
    if (held.lost) throw this.lockLost(what, await this.head().catch(() => undefined));
  }

  private lockLost(what: string, head: Head | undefined): LockLostError {
    const held = this.held;
    if (held) held.lost ??= 'another run took the lock over';
    const by = head?.lock && head.lock.id !== held?.token ? ` It is now held by ${describeHolder(head.lock)}.` : '';
    return new LockLostError(
      `this run lost its lock on the state ${this.url} (${held?.lost ?? 'it was taken over'}), so it did not ${what}.${by} ` +
        'Leases it already issued are recorded in the state; run the command again.',
    );
  }

  private async release(held: HeldLock): Promise<void> {
    clearInterval(held.timer);
    if (this.held === held) this.held = undefined;
    if (held.lost) return;
    await this.forceUnlock(held.token);
  }

  // ---- migration ---------------------------------------------------------------

  async exportAll(): Promise<StateDump> {
    const head = await this.head();
    const applied = await this.getApplied();
    const items = await this.queryPrefix('');
    const dump = stateDump(head.id, applied, { leases: [], journal: [], settings: {}, sinkStatus: {} });
    for (const item of items) {
      const sk = str(item.sk);
      if (sk.startsWith(LEASE)) dump.leases.push(JSON.parse(str(item.data)) as Lease);
      else if (sk.startsWith(JOURNAL)) dump.journal.push(JSON.parse(str(item.data)) as JournalEntry);
      else if (sk.startsWith(SETTING)) dump.settings[sk.slice(SETTING.length)] = str(item.data);
      else if (sk.startsWith(SINK)) dump.sinkStatus[sk.slice(SINK.length)] = JSON.parse(str(item.data)) as SinkStatus;
    }
    dump.journal.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
    return dump;
  }

  async importAll(dump: StateDump): Promise<void> {
    const head = await this.head();
    const items = (await this.queryPrefix('')).filter((i) => str(i.sk) !== HEAD && !str(i.sk).startsWith(GEN));
    if (head.serial !== 0 || items.length > 0) {
      throw new UserError(`the state ${this.url} is not empty (serial ${head.serial}, ${items.length} items); a state can only be copied into an empty one`);
    }
    await this.apply({ commit: dump.commit ?? '', roles: dump.roles, staticRoles: dump.staticRoles ?? [], sinks: dump.sinks, mounts: dump.mounts, ...(dump.access ? { access: dump.access } : {}) });
    const set: string[] = ['#state_id = :id', '#serial = :serial'];
    const remove: string[] = [];
    const values: Record<string, AttributeValue> = { ':id': s(dump.id), ':serial': n(dump.serial), ':one': n(1) };
    if (dump.appliedAt !== undefined) {
      set.push('#applied_at = :at');
      values[':at'] = n(dump.appliedAt);
    } else remove.push('#applied_at');
    if (dump.commit === undefined) remove.push('#commit_sha');
    await this.update(HEAD, `SET ${set.join(', ')}${remove.length ? ` REMOVE ${remove.join(', ')}` : ''}`, '#serial = :one', values);
    this.id = dump.id;
    for (const lease of dump.leases) await this.putLease(lease);
    // Written directly, not through putJournal/setSinkStatus: a copy is no new AWS write, and carries no fence.
    for (const entry of dump.journal) await this.putData(JOURNAL + entry.id, JSON.stringify(entry));
    for (const [key, value] of Object.entries(dump.settings)) await this.setSetting(key, value);
    for (const [name, status] of Object.entries(dump.sinkStatus)) {
      await this.putData(SINK + name, JSON.stringify(status));
    }
  }

  async markMoved(url: string): Promise<void> {
    await this.update(HEAD, 'SET #moved_to = :url, #moved_at = :at', undefined, { ':url': s(url), ':at': n(this.clock.now()) });
  }

  async close(): Promise<void> {
    if (this.held) await this.release(this.held).catch(() => undefined);
    this.client.destroy();
  }

  // ---- plumbing ----------------------------------------------------------------

  private async head(): Promise<Head> {
    const head = await readHead(this.client, { table: this.table, key: this.key });
    if (!head) throw new UserError(`the state ${this.url} is gone: its head item was deleted from table ${this.table}`);
    return head;
  }

  /** The snapshot JSON of the head's generation; undefined when its chunks are not all there. */
  private async generationJson(head: Head): Promise<string | undefined> {
    if (!head.generation) return JSON.stringify({ roles: [], staticRoles: [], sinks: [], mounts: [] });
    if (this.cached?.generation === head.generation) return this.cached.json;
    const items = await this.queryPrefix(`${GEN}${head.generation}#`);
    if (items.length !== head.chunks) return undefined;
    const body = Buffer.concat(items.map((i) => Buffer.from(i.data?.B ?? new Uint8Array())));
    if (head.sha256 && sha256(body) !== head.sha256) return undefined;
    const json = gunzipSync(body).toString('utf8');
    this.cached = { generation: head.generation, json };
    return json;
  }

  private async deleteGeneration(generation: string, chunks: number): Promise<void> {
    for (let i = 0; i < chunks; i++) await this.client.send(new DeleteItemCommand({ TableName: this.table, Key: this.itemKey(chunkKey(generation, i)) }));
  }

  /** Deletes every chunk not of the kept generations: superseded ones, and those of applies that crashed before their commit. */
  private async deleteGenerationsExcept(keep: string[]): Promise<void> {
    const items = await this.query({
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :gen)',
      ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
      ExpressionAttributeValues: { ':pk': s(this.key), ':gen': s(GEN) },
      ProjectionExpression: '#sk',
    });
    const kept = new Set(keep.filter(Boolean).map((g) => `${GEN}${g}#`));
    for (const item of items) {
      const sk = str(item.sk);
      const prefix = sk.slice(0, sk.length - CHUNK_DIGITS);
      if (!kept.has(prefix)) await this.client.send(new DeleteItemCommand({ TableName: this.table, Key: this.itemKey(sk) }));
    }
  }

  private queryPrefix(prefix: string): Promise<Record<string, AttributeValue>[]> {
    return this.query({
      KeyConditionExpression: prefix ? '#pk = :pk AND begins_with(#sk, :prefix)' : '#pk = :pk',
      ExpressionAttributeNames: prefix ? { '#pk': 'pk', '#sk': 'sk' } : { '#pk': 'pk' },
      ExpressionAttributeValues: prefix ? { ':pk': s(this.key), ':prefix': s(prefix) } : { ':pk': s(this.key) },
      ConsistentRead: true,
    });
  }

  /** Every page of a Query. */
  private async query(input: Omit<QueryCommandInput, 'TableName'>): Promise<Record<string, AttributeValue>[]> {
    const items: Record<string, AttributeValue>[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const out = await this.client.send(new QueryCommand({ ...input, TableName: this.table, ...(start ? { ExclusiveStartKey: start } : {}) }));
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
  }

  /** An unconditional put of one item holding `data`. */
  private async putData(sk: string, data: string): Promise<void> {
    await this.client.send(new PutItemCommand({ TableName: this.table, Item: { ...this.itemKey(sk), data: s(data) } }));
  }

  private itemKey(sk: string): Record<string, AttributeValue> {
    return { pk: s(this.key), sk: s(sk) };
  }

  private leaseItem(lease: Lease): Record<string, AttributeValue> {
    return { ...this.itemKey(LEASE + lease.leaseId), data: s(JSON.stringify(lease)), state: s(this.key), due: n(leaseDueAt(lease)) };
  }

  /** An UpdateItem of one item; every attribute in the expressions is written #name (DynamoDB reserves hundreds of words). */
  private update(sk: string, update: string, condition: string | undefined, values: Record<string, AttributeValue>, all = false) {
    return this.client.send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: this.itemKey(sk),
        UpdateExpression: update,
        ...(condition ? { ConditionExpression: condition } : {}),
        ExpressionAttributeNames: names(update, condition),
        ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
        ...(all ? { ReturnValues: 'ALL_NEW' as const } : {}),
      }),
    );
  }
}

// ---- the client --------------------------------------------------------------

/** The SDK's own configuration (AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB, profiles, OIDC), unless the URL says otherwise. */
export function dynamoClient(where: Pick<DynamoLocation, 'url' | 'table' | 'region' | 'endpoint'>, requests?: RequestCounts): DynamoDBClient {
  const client = new DynamoDBClient({
    ...(where.region ? { region: where.region } : {}),
    ...(where.endpoint ? { endpoint: where.endpoint } : {}),
    // Throttling is DynamoDB's answer to a burst: adaptive retries slow down instead of failing.
    retryMode: 'adaptive',
    maxAttempts: 8,
  });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = context.commandName?.replace(/Command$/, '') ?? '?';
      if (requests) requests[operation] = (requests[operation] ?? 0) + 1;
      try {
        return await next(args);
      } catch (err) {
        throw tableError(err, where);
      }
    },
    { step: 'initialize', name: 'credopsStateRequests' },
  );
  return client;
}

/** Expression attribute names for every #name in the expressions. */
function names(...expressions: (string | undefined)[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of expressions) for (const m of (e ?? '').matchAll(/#(\w+)/g)) out[m[0]] = m[1]!;
  return out;
}

/** The head, read strongly consistent: every decision on it (lock, serial, generation) needs the latest. */
async function readHead(client: DynamoDBClient, where: Pick<DynamoLocation, 'table' | 'key'>): Promise<Head | undefined> {
  const out = await client.send(new GetItemCommand({ TableName: where.table, Key: { pk: s(where.key), sk: s(HEAD) }, ConsistentRead: true }));
  return out.Item ? decodeHead(out.Item) : undefined;
}

async function createHead(client: DynamoDBClient, where: DynamoLocation, clock: Clock): Promise<Head> {
  // As SQLite's migration 2 makes it: 128 random bits in hex.
  const id = randomBytes(16).toString('hex');
  try {
    await client.send(
      new PutItemCommand({
        TableName: where.table,
        Item: { pk: s(where.key), sk: s(HEAD), state_id: s(id), serial: n(0), fence: n(0), chunks: n(0), bytes: n(0), created_at: n(clock.now()), format: n(1) },
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: { '#pk': 'pk' },
      }),
    );
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
    // Another run created it at the same moment: use theirs.
  }
  const head = await readHead(client, where);
  if (!head) throw new Error(`bug: the head of ${where.url} is missing right after it was created`);
  return head;
}

function decodeHead(item: Record<string, AttributeValue>): Head {
  const head: Head = {
    id: str(item.state_id),
    serial: num(item.serial) ?? 0,
    chunks: num(item.chunks) ?? 0,
    bytes: num(item.bytes) ?? 0,
    fence: num(item.fence) ?? 0,
  };
  const generation = item.generation?.S;
  if (generation) head.generation = generation;
  if (item.sha256?.S) head.sha256 = item.sha256.S;
  if (item.previous?.S) head.previous = item.previous.S;
  if (item.commit_sha?.S !== undefined) head.commit = item.commit_sha.S;
  const appliedAt = num(item.applied_at);
  if (appliedAt !== undefined) head.appliedAt = appliedAt;
  if (item.lock_token?.S) {
    head.lock = {
      id: item.lock_token.S,
      pid: num(item.lock_pid) ?? 0,
      host: str(item.lock_host),
      since: num(item.lock_since) ?? 0,
      operation: str(item.lock_operation),
      expiresAt: num(item.lock_expires) ?? 0,
    };
  }
  if (item.moved_to?.S) head.movedTo = { url: item.moved_to.S, at: num(item.moved_at) ?? 0 };
  return head;
}

function snapshotOf(head: Head, json: string): AppliedSnapshot {
  const { roles, staticRoles, sinks, mounts, access } = JSON.parse(json) as {
    roles: RoleSpec[];
    staticRoles?: StaticRoleSpec[];
    sinks: SinkSpec[];
    mounts: MountConfig[];
    access?: AccessSpec;
  };
  const snapshot: AppliedSnapshot = { roles, staticRoles: staticRoles ?? [], sinks, mounts, serial: head.serial, ...(access ? { access } : {}) };
  if (head.commit !== undefined && head.generation) snapshot.commit = head.commit;
  if (head.appliedAt !== undefined) snapshot.appliedAt = head.appliedAt;
  return snapshot;
}

/** The table is missing, or access is refused: say which table, where, and what to do. */
function tableError(err: unknown, where: Pick<DynamoLocation, 'url' | 'table'>): unknown {
  if (err instanceof UserError) return err;
  if (err instanceof ResourceNotFoundException) {
    return new UserError(`the DynamoDB table ${where.table} of the state ${where.url} does not exist; create it with: credops state init --state ${where.url}`, { cause: err });
  }
  const name = (err as { name?: string }).name ?? '';
  if (/AccessDenied|UnrecognizedClient|InvalidSignature|ExpiredToken|CredentialsProviderError/.test(name) || /Could not load credentials/.test(errorMessage(err))) {
    return new UserError(`cannot use the state ${where.url}: ${name}: ${errorMessage(err)} (see docs/state.md for the IAM statements the table needs)`, { cause: err });
  }
  return err;
}

function chunkKey(generation: string, index: number): string {
  return `${GEN}${generation}#${String(index).padStart(CHUNK_DIGITS, '0')}`;
}

function sha256(body: Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}

function s(value: string): AttributeValue {
  return { S: value };
}

function n(value: number): AttributeValue {
  return { N: String(value) };
}

function str(value: AttributeValue | undefined): string {
  return value?.S ?? '';
}

function num(value: AttributeValue | undefined): number | undefined {
  return value?.N === undefined ? undefined : Number(value.N);
}
