/**
 * What only the DynamoDB backend has: its URL, its table, the lock's expiry
 * and renewal, fencing after a takeover, and the generations of the applied
 * snapshot. Everything every backend promises is in contract.test.ts.
 */
import { DynamoDBClient, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LockLostError, UserError } from '../../src/errors.js';
import { parseDynamoUrl } from '../../src/state/dynamodb-location.js';
import { openState } from '../../src/state/index.js';
import type { StateStore } from '../../src/state/store.js';
import { startLocalDynamo, type LocalDynamo } from '../support/dynamodb.js';
import { journal, lease, mount, role } from './fixtures.js';

let dynamo: LocalDynamo;
const open: StateStore[] = [];
const owner = (operation: string) => ({ pid: process.pid, host: 'this-host', since: Date.now(), operation });

beforeAll(async () => {
  dynamo = await startLocalDynamo();
});
afterAll(() => dynamo.close());
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

async function openAt(url: string): Promise<StateStore> {
  const store = await openState(url);
  open.push(store);
  return store;
}

describe('the state URL', () => {
  it('names a table and a key, with optional region, endpoint and lock TTL', () => {
    expect(parseDynamoUrl('dynamodb://credops-state/prod')).toEqual({ url: 'dynamodb://credops-state/prod', table: 'credops-state', key: 'prod' });
    expect(parseDynamoUrl('dynamodb://Team_State.v2/acme/secrets/prod?region=eu-west-1&endpoint=http%3A%2F%2Flocalhost%3A8000&lock_ttl=2m')).toMatchObject({
      table: 'Team_State.v2',
      key: 'acme/secrets/prod',
      region: 'eu-west-1',
      endpoint: 'http://localhost:8000',
      lockTtlMs: 120_000,
    });
  });

  it.each([
    ['dynamodb:credops-state', 'is not dynamodb://TABLE/KEY'],
    ['dynamodb://credops-state', 'has no key after the table name'],
    ['dynamodb://credops-state/', 'has no key after the table name'],
    ['dynamodb://ab/prod', '"ab" is not a DynamoDB table name'],
    ['dynamodb://my table/prod', 'is not a DynamoDB table name'],
    ['dynamodb://credops-state/prod?regoin=eu-west-1', 'unknown parameter "regoin" (known: region, endpoint, lock_ttl)'],
    ['dynamodb://credops-state/prod?endpoint=localhost:8000', 'endpoint "localhost:8000" must be an http:// or https:// URL'],
    ['dynamodb://credops-state/prod?lock_ttl=soon', 'lock_ttl:'],
  ])('refuses %s', (url, message) => {
    expect(() => parseDynamoUrl(url)).toThrow(UserError);
    expect(() => parseDynamoUrl(url)).toThrow(message);
  });

  it('a table that does not exist is a clear error naming state init, and nothing is created', async () => {
    const url = `dynamodb://no-such-table/prod?region=us-east-1&endpoint=${encodeURIComponent(dynamo.endpoint)}`;
    const err = await openState(url).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe(`the DynamoDB table no-such-table of the state ${url} does not exist; create it with: credops state init --state ${url}`);
  });
});

describe('the lock', () => {
  it('is renewed while its holder works: it outlives its TTL, and nobody takes it over', async () => {
    const url = `${await dynamo.newState()}&lock_ttl=1s`;
    const holder = await openAt(url);
    const other = await openAt(url);
    const handle = await holder.lock(owner('reconcile'), 0);
    await new Promise((r) => setTimeout(r, 2_500));
    await expect(other.lock(owner('reconcile'), 0)).rejects.toThrow(/state is locked by reconcile .* Its lock expires at/);
    await holder.putJournal(journal('j1', 'aws/creds/deploy/1'));
    await handle.release();
    await (await other.lock(owner('reconcile'), 0)).release();
  });

  it('expires when its holder stops renewing, and the next run takes it over', async () => {
    const url = `${await dynamo.newState()}&lock_ttl=1s`;
    const holder = await openAt(url);
    await holder.lock(owner('reconcile'), 0);
    // What a SIGKILL leaves: the lock item, and no process renewing it.
    const paused = (holder as unknown as { held?: { timer: NodeJS.Timeout } }).held;
    if (paused) clearInterval(paused.timer);
    const other = await openAt(url);
    const started = Date.now();
    const taken = await other.lock(owner('reconcile'), 10_000);
    expect(Date.now() - started).toBeGreaterThan(300);
    expect((await other.lockHolder())?.operation).toBe('reconcile');
    await taken.release();
  });

  it('after a takeover, the old holder may still record leases, but starts no AWS write, applies nothing and records no sink', async () => {
    const url = await dynamo.newState();
    const old = await openAt(url);
    const fresh = await openAt(url);
    await old.lock(owner('reconcile'), 0);
    expect(await fresh.forceUnlock((await fresh.lockHolder())!.id!)).toBe(true);
    const handle = await fresh.lock(owner('reconcile'), 0);

    await old.putLease(lease('aws/creds/deploy/issued-before-the-takeover'));
    expect(await fresh.getLease('aws/creds/deploy/issued-before-the-takeover')).toBeDefined();
    for (const write of [
      () => old.putJournal(journal('j2', 'aws/creds/deploy/2')),
      () => old.apply({ commit: 'stale', roles: [role('stale')], sinks: [], mounts: [mount('aws')] }),
      () => old.setSinkStatus('ci', { lastSuccessAt: 1 }),
      () => old.ensureLocked('publish to sink ci'),
    ]) {
      const err = await write().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LockLostError);
      expect((err as Error).message).toMatch(/this run lost its lock on the state .* \(another run took the lock over\), so it did not .*It is now held by reconcile/);
    }
    expect(await fresh.listJournal()).toEqual([]);
    expect((await fresh.getApplied()).serial).toBe(0);
    expect(await fresh.getSinkStatus('ci')).toBeUndefined();
    await handle.release();
  });
});

describe('generations of the applied snapshot', () => {
  async function chunkKeys(url: string): Promise<string[]> {
    const where = parseDynamoUrl(url);
    const client = new DynamoDBClient({ region: 'us-east-1', endpoint: dynamo.endpoint });
    try {
      const out = await client.send(
        new QueryCommand({ TableName: where.table, KeyConditionExpression: 'pk = :pk AND begins_with(sk, :g)', ExpressionAttributeValues: { ':pk': { S: where.key }, ':g': { S: 'gen#' } }, ConsistentRead: true }),
      );
      return (out.Items ?? []).map((i) => i.sk!.S!);
    } finally {
      client.destroy();
    }
  }

  it('keeps the current and the previous generation; an apply deletes older ones and those of applies that crashed', async () => {
    const url = await dynamo.newState();
    const where = parseDynamoUrl(url);
    const store = await openAt(url);
    await store.apply({ commit: 'c1', roles: [role('a')], sinks: [], mounts: [] });
    await store.apply({ commit: 'c2', roles: [role('b')], sinks: [], mounts: [] });
    // What an apply killed before its commit leaves behind.
    const client = new DynamoDBClient({ region: 'us-east-1', endpoint: dynamo.endpoint });
    await client.send(new PutItemCommand({ TableName: where.table, Item: { pk: { S: where.key }, sk: { S: 'gen#9-crashed#00000' }, data: { B: Buffer.from('partial') } } }));
    client.destroy();
    expect(await chunkKeys(url)).toHaveLength(3);

    await store.apply({ commit: 'c3', roles: [role('c')], sinks: [], mounts: [] });
    const keys = await chunkKeys(url);
    expect(keys).toHaveLength(2);
    expect(keys.some((k) => k.startsWith('gen#2-'))).toBe(true);
    expect(keys.some((k) => k.startsWith('gen#3-'))).toBe(true);
    expect((await (await openAt(url)).getApplied()).roles.map((r) => r.name)).toEqual(['c']);
  });

  it('sweeps expired leases through the expiry index, never a Scan', async () => {
    const url = await dynamo.newState();
    const store = await openAt(url);
    for (let i = 0; i < 30; i++) await store.putLease(lease(`aws/creds/deploy/${i}`, { expiresAt: i < 3 ? 1_000 : 10_000_000 }));
    const before = dynamo.calls.length;
    expect((await store.listLeases({ dueBy: 5_000 })).map((l) => l.leaseId)).toEqual(['aws/creds/deploy/0', 'aws/creds/deploy/1', 'aws/creds/deploy/2']);
    expect(dynamo.calls.slice(before).map((c) => c.operation)).toEqual(['Query']);
    expect(dynamo.calls.some((c) => c.operation === 'Scan')).toBe(false);
  });
});
