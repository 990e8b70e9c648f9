/**
 * npm run bench:state — the state backends side by side (issue #10): for
 * BENCH_ROLES roles (default 10,000) and BENCH_LEASES leases (default 1,000),
 * on DynamoDB (dynalite, a real server on 127.0.0.1, through the real SDK
 * client) and on SQLite, in one run:
 *
 * - a no-change plan: requests and wall time (target: reads ≤ 2 + ⌈snapshot / 1 MB⌉);
 * - an apply that changes one role: requests and wall time (target: writes
 *   O(snapshot / item size), never one per unchanged role);
 * - requests per issued and per revoked lease, through the real engine against
 *   the local AWS endpoint (target: 1 write each, plus the journal entry's put and delete).
 *
 * Then the monthly DynamoDB requests of a typical team, from those counts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Engine } from '../src/engine/index.js';
import { awsClientsFor } from '../src/engine/root.js';
import { AuditLog } from '../src/audit.js';
import { loadDesired } from '../src/load/index.js';
import type { DesiredModel, Lease } from '../src/model/types.js';
import { planAgainstState } from '../src/reconcile/plan.js';
import { CHUNK_BYTES, type DynamoStateStore } from '../src/state/dynamodb.js';
import { openState } from '../src/state/index.js';
import type { StateStore } from '../src/state/store.js';
import { localAwsEnv, startLocalAws } from '../test/support/aws/index.js';
import { startLocalDynamo } from '../test/support/dynamodb.js';
import { generateRepo } from './repo.js';

const ROLES = Number(process.env.BENCH_ROLES ?? 10_000);
const LEASES = Number(process.env.BENCH_LEASES ?? 1_000);
const ISSUES = Number(process.env.BENCH_ISSUES ?? 20);
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const READS = new Set(['GetItem', 'Query', 'Scan', 'BatchGetItem']);
const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem']);

interface Counted {
  ms: number;
  reads: number;
  writes: number;
  ops: string;
}

const dir = mkdtempSync(join(tmpdir(), 'credops-bench-state-'));
const dynamo = await startLocalDynamo();
const aws = await startLocalAws();
try {
  generateRepo(join(dir, 'repo'), ROLES);
  const { model } = await loadDesired({ repo: join(dir, 'repo') });
  const backends = [
    { name: 'DynamoDB', url: await dynamo.newState('bench') },
    { name: 'SQLite', url: `sqlite:${join(dir, 'state.db')}` },
  ];
  const rows: Record<string, Record<string, Counted | string>> = {};
  let snapshotBytes = 0;
  for (const backend of backends) {
    const row: Record<string, Counted | string> = {};
    rows[backend.name] = row;
    await seed(backend.url, model);

    // A no-change plan, as `credops plan` runs it: open (read once), plan, close.
    row.plan = await counted(backend.url, { readOnce: true }, (state) => planAgainstState(state, model));

    // An apply that changes one role, as reconcile does it: lock, read, apply, release.
    const changed: DesiredModel = { ...model, commit: 'one-role-changed', roles: model.roles.map((r, i) => (i === 7 ? { ...r, description: 'changed' } : r)) };
    row.apply = await counted(backend.url, {}, async (state) => {
      const lock = await state.lock({ pid: process.pid, host: 'bench', since: Date.now(), operation: 'reconcile' }, 0);
      const applied = await state.getApplied();
      await state.apply({ commit: changed.commit, roles: changed.roles, sinks: changed.sinks, mounts: Object.values(changed.config.mounts), expectSerial: applied.serial });
      await lock.release();
    });
    if (backend.name === 'DynamoDB') snapshotBytes = await headBytes(backend.url);

    // Issue and revoke through the real engine against the local AWS endpoint.
    const issued: string[] = [];
    row.issue = await counted(backend.url, {}, async (_state, engine) => {
      for (let i = 0; i < ISSUES; i++) issued.push((await engine.issue({ mount: 'aws', role: 'role-0', path: 'creds' })).lease.leaseId);
    });
    row.revoke = await counted(backend.url, {}, async (_state, engine) => {
      for (const leaseId of issued) await engine.revoke(leaseId);
    });
  }

  const mb = snapshotBytes / (1024 * 1024);
  const planTarget = 2 + Math.ceil(mb);
  const dyn = rows.DynamoDB as Record<string, Counted>;
  const sql = rows.SQLite as Record<string, Counted>;
  console.log(`bench:state — node ${process.version}; ${ROLES} roles, ${LEASES} leases; DynamoDB is dynalite on 127.0.0.1 (real HTTP, real SDK client)`);
  console.log(`applied snapshot: ${(snapshotBytes / 1024).toFixed(0)} KB gzipped, in ${Math.max(1, Math.ceil(snapshotBytes / CHUNK_BYTES))} chunk item(s) of at most ${CHUNK_BYTES / 1024} KB`);
  console.log('');
  console.log('| what | DynamoDB requests | DynamoDB time | SQLite time | target |');
  console.log('|---|---|---|---|---|');
  const ok = (pass: boolean) => (pass ? 'ok' : 'OVER');
  console.log(`| no-change plan | ${dyn.plan!.reads} reads, ${dyn.plan!.writes} writes (${dyn.plan!.ops}) | ${secs(dyn.plan!.ms)} | ${secs(sql.plan!.ms)} | reads ≤ 2 + ⌈${mb.toFixed(2)} MB⌉ = ${planTarget}: ${ok(dyn.plan!.reads <= planTarget && dyn.plan!.writes === 0)} |`);
  const chunks = Math.max(1, Math.ceil(snapshotBytes / CHUNK_BYTES));
  console.log(`| apply changing 1 of ${ROLES} roles | ${dyn.apply!.reads} reads, ${dyn.apply!.writes} writes (${dyn.apply!.ops}) | ${secs(dyn.apply!.ms)} | ${secs(sql.apply!.ms)} | writes ≈ chunks (${chunks}) + head + lock + old chunks, not ${ROLES}: ${ok(dyn.apply!.writes <= 4 * chunks + 4)} |`);
  const perIssue = dyn.issue!.writes / ISSUES;
  const perRevoke = dyn.revoke!.writes / ISSUES;
  console.log(`| issue a lease (×${ISSUES}) | ${fmt(dyn.issue!.reads / ISSUES)} reads, ${fmt(perIssue)} writes per lease (${dyn.issue!.ops}) | ${secs(dyn.issue!.ms / ISSUES)} each | ${secs(sql.issue!.ms / ISSUES)} each | 1 lease write + journal put and delete = 3: ${ok(perIssue <= 3)} |`);
  console.log(`| revoke a lease (×${ISSUES}) | ${fmt(dyn.revoke!.reads / ISSUES)} reads, ${fmt(perRevoke)} writes per lease (${dyn.revoke!.ops}) | ${secs(dyn.revoke!.ms / ISSUES)} each | ${secs(sql.revoke!.ms / ISSUES)} each | 1 write: ${ok(perRevoke <= 1)} |`);
  console.log('');
  // A typical team: 100 roles, 50 sinks rotating hourly, a scheduled reconcile every 15 minutes.
  // Each rotation: issue and revoke (measured above), the sink status write, and under the
  // reconcile's lock one head read each to confirm the lock before the journal entry, the publish
  // and the sink status. Each reconcile: what a plan reads, plus the lock and its release.
  const sinkRotations = 50 * 24 * 30;
  const reconciles = 4 * 24 * 30;
  const writesPerRotation = perIssue + perRevoke + 1;
  const readsPerRotation = dyn.issue!.reads / ISSUES + dyn.revoke!.reads / ISSUES + 3;
  const monthlyWrites = sinkRotations * writesPerRotation + reconciles * 2;
  const monthlyReads = sinkRotations * readsPerRotation + reconciles * dyn.plan!.reads;
  console.log(
    `A typical team (100 roles, 50 sinks rotating hourly, a scheduled reconcile every 15 min): ${sinkRotations} rotations × ${fmt(writesPerRotation)} writes ` +
      `and ${fmt(readsPerRotation)} reads, ${reconciles} reconciles × ${dyn.plan!.reads} reads + 2 lock writes: ` +
      `≈ ${Math.round(monthlyWrites / 1000)}k writes and ${Math.round(monthlyReads / 1000)}k reads a month, ` +
      `about $${((monthlyWrites / 1e6) * 0.625 + (monthlyReads / 1e6) * 0.125).toFixed(2)} at on-demand prices ($0.625 per million writes, $0.125 per million reads; items ≤ 1 KB).`,
  );
} finally {
  await dynamo.close();
  await aws.close();
  rmSync(dir, { recursive: true, force: true });
}

/** The applied state and the leases, written once before measuring. */
async function seed(url: string, model: DesiredModel): Promise<void> {
  const state = await openState(url);
  try {
    await state.apply({ commit: model.commit, roles: model.roles, sinks: model.sinks, mounts: Object.values(model.config.mounts) });
    const now = Date.now();
    for (let i = 0; i < LEASES; i++) {
      const lease: Lease = {
        leaseId: `aws/creds/role-${(i % 250) * 4}/bench${String(i).padStart(6, '0')}`,
        mount: 'aws',
        role: `role-${(i % 250) * 4}`,
        credentialType: 'iam_user',
        path: 'creds',
        issuedAt: now,
        expiresAt: now + 3_600_000,
        maxExpiresAt: now + 3_600_000,
        renewable: true,
        resources: { userName: `credops-bench-${i}`, accessKeyId: `AKIABENCH${String(i).padStart(11, '0')}` },
      };
      await state.putLease(lease);
    }
  } finally {
    await state.close();
  }
}

/** Opens the state, runs fn, and counts its requests (DynamoDB) and wall time, open and close included. */
async function counted(url: string, opts: { readOnce?: boolean }, fn: (state: StateStore, engine: Engine) => Promise<unknown>): Promise<Counted> {
  const start = performance.now();
  const state = await openState(url, opts);
  const clients = awsClientsFor(state, localAwsEnv(aws));
  const engine = new Engine({ state, clients, clock: aws.clock, audit: new AuditLog(join(dir, 'audit.log')) });
  await fn(state, engine);
  await state.close();
  const ms = performance.now() - start;
  const requests = (state as Partial<DynamoStateStore>).requests ?? {};
  const sum = (set: Set<string>) => Object.entries(requests).reduce((n, [op, c]) => n + (set.has(op) ? c : 0), 0);
  return { ms, reads: sum(READS), writes: sum(WRITES), ops: Object.entries(requests).map(([op, c]) => `${op} ${c}`).join(', ') || '-' };
}

async function headBytes(url: string): Promise<number> {
  const { DynamoDBClient, GetItemCommand } = await import('@aws-sdk/client-dynamodb');
  const { parseDynamoUrl } = await import('../src/state/dynamodb-location.js');
  const where = parseDynamoUrl(url);
  const client = new DynamoDBClient({ region: where.region, endpoint: where.endpoint });
  try {
    const out = await client.send(new GetItemCommand({ TableName: where.table, Key: { pk: { S: where.key }, sk: { S: 'head' } }, ConsistentRead: true }));
    return Number(out.Item?.bytes?.N ?? 0);
  } finally {
    client.destroy();
  }
}

function secs(ms: number): string {
  return ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}
