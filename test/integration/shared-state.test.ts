/**
 * Stories of the shared DynamoDB state (issue #10), with real credops
 * processes, the local AWS endpoint and a DynamoDB-compatible server
 * (dynalite) on 127.0.0.1:
 * - a holder killed with SIGKILL: the next run takes the lock over once it expired;
 * - a holder stopped with SIGSTOP and resumed after a takeover: what it would
 *   write is refused with a clear message, and nothing is lost;
 * - SIGKILL at random points of a 5,000-role apply: the state is always
 *   exactly the old or the new snapshot;
 * - `state migrate` from SQLite with live leases and sinks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openState } from '../../src/state/index.js';
import type { StateStore } from '../../src/state/store.js';
import { childEnv } from '../support/aws/index.js';
import { startLocalDynamo, type LocalDynamo } from '../support/dynamodb.js';
import { credopsUsers, runCli, startLocalAws, tempState, type LocalAws, type TempState } from './helpers.js';

const ROOT = resolve(import.meta.dirname, '../..');
const ENTRY = `const { main } = await import(${JSON.stringify(join(ROOT, 'src/cli/main.ts'))}); process.exitCode = await main(['node', 'credops', ...process.argv.slice(1)]);`;
const DEPLOY = { credential_type: 'iam_user', policy_document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] } };

let aws: LocalAws;
let dynamo: LocalDynamo;
let t: TempState;
let repo: string;
const children: ChildProcess[] = [];

beforeEach(async () => {
  aws = await startLocalAws();
  dynamo = await startLocalDynamo();
  repo = mkdtempSync(join(tmpdir(), 'credops-shared-'));
  mkdirSync(join(repo, 'roles'));
  mkdirSync(join(repo, 'sinks'));
  writeFileSync(join(repo, 'credops.yaml'), 'version: 1\nmounts:\n  aws:\n    region: us-east-1\n');
  writeFileSync(join(repo, 'roles', 'deploy.json'), JSON.stringify(DEPLOY));
  writeFileSync(join(repo, 'sinks', 'ci.yaml'), 'role: deploy\nttl: 1h\nverify: true\nsecretsmanager:\n  name: ci/deploy\n  recovery_window_days: 0\n');
});

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
  }
  await t?.close();
  await dynamo.close();
  await aws.close();
  rmSync(repo, { recursive: true, force: true });
});

/** `credops ARGS` as a child process we can signal; resolves with its output when it exits. */
function startCli(args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', ENTRY, '--', ...args], {
    cwd: ROOT,
    env: runEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => child.on('close', (code) => done({ code, stdout, stderr })));
  return { child, done };
}

function runEnv(): Record<string, string> {
  return { ...childEnv(aws), CREDOPS_STATE: t.url, CREDOPS_AUDIT_LOG: t.auditPath, NO_COLOR: '1', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A `credops reconcile` held at `action` by the endpoint, stopped with SIGSTOP
 * once `reached` (and `settleMs` more), then left stopped past its 2 s lock TTL:
 * the next run may take the lock over. SIGCONT resumes it.
 */
async function reconcileStoppedAt(action: string, what: string, reached: () => Promise<boolean>, settleMs: number) {
  const release = aws.faults.hold(action);
  const paused = startCli(['reconcile', '--repo', repo]);
  await until(what, async () => ((await reached()) ? true : undefined));
  await new Promise((r) => setTimeout(r, settleMs));
  paused.child.kill('SIGSTOP');
  release();
  await new Promise((r) => setTimeout(r, 2_500));
  return paused;
}

/** Every IAM user credops made is one the state has a lease for, and the other way round. */
async function nothingLost(state: StateStore): Promise<void> {
  const leased = (await state.listLeases()).map((l) => l.resources.userName).sort();
  expect(credopsUsers(aws).map((u) => u.userName).sort()).toEqual(leased);
  expect(await state.listJournal()).toEqual([]);
}

describe('a shared DynamoDB state', () => {
  it('a holder killed with SIGKILL: the next reconcile takes the lock over once it expired, and rolls back what the dead run left', async () => {
    t = await tempState(`${await dynamo.newState()}&lock_ttl=2s`);
    const release = aws.faults.hold('CreateAccessKey');
    const first = startCli(['reconcile', '--repo', repo]);
    // Killed once its user exists and its key is being made: the journal entry is all that says so.
    await until('the first run to have created its user', async () => aws.calls.some((c) => c.action === 'PutUserPolicy') || undefined);
    await new Promise((r) => setTimeout(r, 200));
    expect(await t.state.listJournal()).toHaveLength(1);
    first.child.kill('SIGKILL');
    await first.done;
    release();
    expect((await t.state.lockHolder())?.operation).toBe('reconcile');

    const second = await runCli(aws, t, ['reconcile', '--repo', repo, '--lock-timeout', '20s']);
    expect(second.stderr).toContain('sink ci: issue');
    expect(second.code).toBe(0);
    expect(await t.state.lockHolder()).toBeUndefined();
    await nothingLost(t.state);
    expect(await t.state.listLeases()).toHaveLength(1);
  });

  it('a holder stopped before its apply and resumed after a takeover: its apply is refused, and nothing is lost', async () => {
    t = await tempState(`${await dynamo.newState()}&lock_ttl=2s`);
    expect((await runCli(aws, t, ['reconcile', '--repo', repo])).code).toBe(0);
    writeFileSync(join(repo, 'roles', 'reader.json'), JSON.stringify({ credential_type: 'federation_token', policy_arns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] }));

    // The first run stops while it checks its sink's secret for drift, before it applies.
    const paused = await reconcileStoppedAt('DescribeSecret', 'the first run to hold the lock', async () => (await t.state.lockHolder()) !== undefined, 500);

    const second = await runCli(aws, t, ['reconcile', '--repo', repo, '--lock-timeout', '20s']);
    expect(second.code).toBe(0);
    const applied = await t.state.getApplied();
    expect(applied.roles.map((r) => r.name).sort()).toEqual(['deploy', 'reader']);

    paused.child.kill('SIGCONT');
    const resumed = await paused.done;
    expect(resumed.code).toBe(1);
    expect(resumed.stderr).toMatch(/this run lost its lock on the state dynamodb:\/\/.* \(another run took the lock over\), so it did not apply the plan\./);
    expect((await t.state.getApplied()).serial).toBe(applied.serial);
    await nothingLost(t.state);
  });

  it('a holder stopped before it publishes and resumed after a takeover: it does not publish, and revokes what it issued', async () => {
    t = await tempState(`${await dynamo.newState()}&lock_ttl=2s`);
    // The first run stops while it checks that its new key works, after the key is recorded.
    const paused = await reconcileStoppedAt('GetCallerIdentity', 'the first run to record its lease', async () => (await t.state.listLeases()).length === 1, 300);

    const second = await runCli(aws, t, ['reconcile', '--repo', repo, '--lock-timeout', '20s']);
    expect(second.code).toBe(0);
    const secret = aws.secrets.get('ci/deploy')?.value;
    expect(secret).toContain('AccessKeyId');

    paused.child.kill('SIGCONT');
    const resumed = await paused.done;
    expect(resumed.code).toBe(1);
    expect(resumed.stderr).toContain('so it did not publish to sink ci');
    // The secret still holds the second run's credential, and the first run's user is gone again.
    expect(aws.secrets.get('ci/deploy')?.value).toBe(secret);
    const published = JSON.parse(secret!) as { AccessKeyId: string };
    const status = await t.state.getSinkStatus('ci');
    const lease = await t.state.getLease(status!.published!.leaseId);
    expect(lease?.resources.accessKeyId).toBe(published.AccessKeyId);
    await nothingLost(t.state);
  });

  it('SIGKILL at random points of a 5,000-role apply leaves exactly the old or the new snapshot', async () => {
    t = await tempState(await dynamo.newState());
    const roles = (commit: string) => (s: Awaited<ReturnType<StateStore['getApplied']>>) => s.commit === commit && s.roles.length === 5000 && s.roles.every((r, i) => r.name === `${commit}-${i}`);
    const isOld = roles('old');
    const isNew = roles('new');
    const loop = (commit: string) =>
      spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/state/apply-loop.ts'), t.url, '5000', commit], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    // The old snapshot: one apply of it, then stop.
    const first = loop('old');
    children.push(first);
    await until('the old snapshot', async () => (isOld(await (await openState(t.url)).getApplied()) ? true : undefined), 60_000);
    first.kill('SIGKILL');

    const seen = { old: 0, new: 0 };
    for (let round = 0; round < 6; round++) {
      const child = loop(round % 2 ? 'old' : 'new');
      children.push(child);
      await new Promise<void>((r) => child.stdout!.once('data', () => r()));
      await new Promise((r) => setTimeout(r, 100 + Math.floor(Math.random() * 1_500)));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const reader = await openState(t.url);
      const applied = await reader.getApplied();
      await reader.close();
      expect(isOld(applied) || isNew(applied)).toBe(true);
      seen[isOld(applied) ? 'old' : 'new']++;
    }
    expect(seen.old + seen.new).toBe(6);
  }, 180_000);

  it('state migrate from SQLite with live leases and sinks: every lease is revoked from the new state, and the old state refuses to be used', async () => {
    t = await tempState();
    expect((await runCli(aws, t, ['reconcile', '--repo', repo])).code).toBe(0);
    expect((await runCli(aws, t, ['creds', 'deploy'])).code).toBe(0);
    const before = await t.state.exportAll();
    expect(before.leases).toHaveLength(2);
    const target = await dynamo.newState('migrated');

    const moved = await runCli(aws, t, ['state', 'migrate', '--to', target]);
    expect(moved.stderr).toBe(`Copying state ${before.id} from ${t.url} to ${target}...\n`);
    expect(moved.code).toBe(0);
    expect(moved.stdout).toContain(`Copied state ${before.id} (serial 1, commit dirty) to ${target}: 1 roles, 1 sinks, 1 mounts, 2 leases, 0 journal entries, 0 settings, 1 sink statuses. Verified item by item.`);

    const old = await runCli(aws, t, ['lease', 'list']);
    expect(old.code).toBe(1);
    expect(old.stderr).toContain(`was moved to ${target} by credops state migrate at`);
    expect((await runCli(aws, t, ['reconcile', '--repo', repo])).stderr).toContain(`Use --state ${target}`);
    const shown = await runCli(aws, t, ['state', 'show']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`Moved:      to ${target} at`);

    const onNew = { CREDOPS_STATE: target };
    const show = await runCli(aws, t, ['state', 'show', '--format', 'json'], onNew);
    expect(JSON.parse(show.stdout)).toMatchObject({ id: before.id, serial: 1, commit: 'dirty', roles: 1, sinks: 1, leases: 2, lock: null, moved_to: null });
    expect((await runCli(aws, t, ['plan', '--repo', repo, '--detailed-exitcode'], onNew)).code).toBe(0);
    const revoked = await runCli(aws, t, ['lease', 'revoke', '--prefix', 'aws/'], onNew);
    expect(revoked.code).toBe(0);
    expect(credopsUsers(aws)).toEqual([]);
    const after = await openState(target);
    expect(await after.listLeases()).toEqual([]);
    await after.close();
  });

  it('state init checks an existing table and names what differs; state unlock removes a named lock only', async () => {
    t = await tempState(await dynamo.newState());
    // A key nothing has used: show says so, and creates nothing.
    const none = await runCli(aws, t, ['state', 'show'], { CREDOPS_STATE: await dynamo.newState('never-used') });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('there is no state at dynamodb://');
    expect(none.stderr).toContain('yet: nothing has been applied or issued with it. credops state init creates a DynamoDB state');
    expect((await runCli(aws, t, ['state', 'show'], { CREDOPS_STATE: await dynamo.newState('never-used') })).code).toBe(1);

    const ok = await runCli(aws, t, ['state', 'init']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('exists; checking it');
    expect(ok.stdout).toMatch(/State dynamodb:\/\/.* is ready \(id [0-9a-f]{32}, serial 0\)\./);

    const { DynamoDBClient, CreateTableCommand } = await import('@aws-sdk/client-dynamodb');
    const client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1' });
    await client.send(
      new CreateTableCommand({
        TableName: 'not-credops',
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'LockID', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'LockID', KeyType: 'HASH' }],
      }),
    );
    client.destroy();
    const wrong = await runCli(aws, t, ['state', 'init'], { CREDOPS_STATE: `dynamodb://not-credops/prod?region=us-east-1&endpoint=${encodeURIComponent(dynamo.endpoint)}` });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('table not-credops cannot hold a credops state:');
    expect(wrong.stderr).toContain('its key is LockID (HASH, S); credops needs pk (HASH, S), sk (RANGE, S)');
    expect(wrong.stderr).toContain('it has no global secondary index leases-by-due');

    const lock = await t.state.lock({ pid: 4242, host: 'gone-runner', since: Date.now(), operation: 'reconcile' }, 0);
    const id = (await t.state.lockHolder())!.id!;
    const shown = await runCli(aws, t, ['state', 'show']);
    expect(shown.stdout).toContain(`Lock:       held by reconcile (pid 4242 on host gone-runner, since`);
    expect(shown.stdout).toContain(`; id ${id}`);
    const refused = await runCli(aws, t, ['state', 'unlock', '--force', 'some-other-id']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`has id ${id}, not some-other-id; nothing was removed`);
    const unlocked = await runCli(aws, t, ['state', 'unlock', '--force', id]);
    expect(unlocked.code).toBe(0);
    expect(unlocked.stdout).toContain(`Removed lock ${id} of reconcile (pid 4242 on host gone-runner)`);
    expect(await t.state.lockHolder()).toBeUndefined();
    await lock.release();
  });

  it('plan needs only read access to the table; reconcile with it fails clearly and changes nothing', async () => {
    t = await tempState(await dynamo.newState());
    expect((await runCli(aws, t, ['reconcile', '--repo', repo])).code).toBe(0);
    // A pull-request job's identity: its IAM policy allows reading the table, nothing else.
    const planOnly = { AWS_ACCESS_KEY_ID: 'AKIDPLANONLY', AWS_SECRET_ACCESS_KEY: 'plan-only-secret' };
    dynamo.readOnly(planOnly.AWS_ACCESS_KEY_ID);
    writeFileSync(join(repo, 'roles', 'reader.json'), JSON.stringify({ credential_type: 'federation_token', policy_arns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] }));

    const plan = await runCli(aws, t, ['plan', '--repo', repo, '--detailed-exitcode'], planOnly);
    expect(plan.stderr).toBe('');
    expect(plan.code).toBe(2);
    expect(plan.stdout).toContain('Plan: 1 to add, 0 to change, 0 to destroy.');
    const byPlan = dynamo.calls.filter((c) => c.accessKeyId === planOnly.AWS_ACCESS_KEY_ID).map((c) => c.operation);
    expect(byPlan).toEqual(['GetItem', 'Query', 'Query']);

    const serial = (await t.state.getApplied()).serial;
    const reconcile = await runCli(aws, t, ['reconcile', '--repo', repo], planOnly);
    expect(reconcile.code).toBe(1);
    expect(reconcile.stderr).toMatch(/cannot use the state dynamodb:\/\/.*: AccessDeniedException: .*not authorized to perform: dynamodb:UpdateItem .*\(see docs\/state\.md for the IAM statements the table needs\)/);
    expect((await t.state.getApplied()).serial).toBe(serial);
  });
});
