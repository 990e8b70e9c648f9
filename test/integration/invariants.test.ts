/**
 * DESIGN.md's invariants, each as the user would meet it through the CLI run as
 * real processes against the local AWS endpoint: no leak (2), idempotent (3),
 * all or nothing on input (4), one writer (5). No orphan (1) is crash.test.ts.
 * Each runs on every state backend: SQLite and DynamoDB.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../state/backends.js';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startLocalAws, tempState, type LocalAws, type TempState } from './helpers.js';

const isWrite = (action: string) => !/^(Get|List|Describe)/.test(action);

function writeRepo(dir: string, roles: Record<string, string>): void {
  mkdirSync(join(dir, 'roles'), { recursive: true });
  mkdirSync(join(dir, 'sinks'), { recursive: true });
  writeFileSync(join(dir, 'credops.yaml'), 'version: 1\nmounts:\n  aws:\n    region: us-east-1\n');
  for (const [name, text] of Object.entries(roles)) writeFileSync(join(dir, 'roles', `${name}.json`), text);
  writeFileSync(join(dir, 'sinks', 'deploy.yaml'), 'role: deploy\nttl: 1h\nsecretsmanager:\n  name: credops/deploy\n  recovery_window_days: 0\n');
}

const DEPLOY = JSON.stringify(
  {
    credential_type: 'iam_user',
    policy_document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::artifacts/*' }] },
  },
  null,
  2,
);

describe.each(BACKENDS.map((make) => [make().name, make] as const))('invariants (%s state)', (_name, make) => {
  const backend = make();
  let aws: LocalAws;
  let t: TempState;
  let repo: string;

  beforeAll(async () => {
    aws = await startLocalAws({ seed: 7 });
    await backend.start();
    t = await tempState(backend.name === 'sqlite' ? undefined : await backend.newUrl());
    repo = mkdtempSync(join(tmpdir(), 'credops-invariants-'));
    writeRepo(repo, { deploy: DEPLOY });
  });

  afterAll(async () => {
    await t.close();
    await backend.stop();
    await aws.close();
    rmSync(repo, { recursive: true, force: true });
  });

  it('one writer: a second reconcile waits for the lock, then fails naming the holder; the holder finishes', async () => {
    // CreateUser waits until the second run has failed: the first holds the lock all that time.
    const release = aws.faults.hold('CreateUser');
    const first = runCli(aws, t, ['reconcile', '--repo', repo]);
    const deadline = Date.now() + 20_000;
    let holder = await t.state.lockHolder();
    while (!holder && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      holder = await t.state.lockHolder();
    }
    expect(holder?.operation).toBe('reconcile');

    const second = await runCli(aws, t, ['reconcile', '--repo', repo, '--lock-timeout', '1s']);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`state is locked by reconcile (pid ${holder!.pid} on host`);

    release();
    const done = await first;
    expect(done.code).toBe(0);
    expect(done.stderr).toContain('sink deploy: issue (new sink): issued aws/creds/deploy/');
    expect(aws.secrets.get('credops/deploy')?.value).toContain('AccessKeyId');
    expect(await t.state.lockHolder()).toBeUndefined();
  });

  it('idempotent: reconcile again on the same commit makes no AWS write call', async () => {
    aws.resetCalls();
    const again = await runCli(aws, t, ['reconcile', '--repo', repo]);
    expect(again.code).toBe(0);
    expect(aws.calls.filter((c) => isWrite(c.action))).toEqual([]);
  });

  it('all or nothing: one bad file among good changes applies nothing and calls AWS for nothing', async () => {
    const before = await t.state.getApplied();
    const leasesBefore = await t.state.listLeases();
    writeFileSync(join(repo, 'roles', 'reader.json'), JSON.stringify({ credential_type: 'federation_token', policy_arns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] }));
    writeFileSync(join(repo, 'roles', 'broken.json'), '{\n  "credential_type": "iam-user"\n}\n');
    aws.resetCalls();

    const result = await runCli(aws, t, ['reconcile', '--repo', repo]);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('roles/broken.json:2:22: error: /credential_type must be one of');
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(aws.calls).toEqual([]);
    expect(await t.state.getApplied()).toEqual(before);
    expect(await t.state.listLeases()).toEqual(leasesBefore);
    rmSync(join(repo, 'roles', 'broken.json'));
    rmSync(join(repo, 'roles', 'reader.json'));
  });

  it('no leak: issued secrets appear in no state file, audit line, plan, status or lease listing', async () => {
    const creds = await runCli(aws, t, ['creds', 'deploy', '--format', 'json']);
    expect(creds.code).toBe(0);
    const issued = JSON.parse(creds.stdout) as { data: { access_key: string; secret_key: string } };
    const published = JSON.parse(aws.secrets.get('credops/deploy')!.value!) as { SecretAccessKey: string };
    const secrets = [issued.data.secret_key, published.SecretAccessKey];
    expect(secrets.every((s) => s.length >= 20)).toBe(true);

    const outputs = await Promise.all([
      runCli(aws, t, ['plan', '--repo', repo, '--refresh', '--format', 'json']),
      runCli(aws, t, ['plan', '--repo', repo, '--format', 'markdown']),
      runCli(aws, t, ['status', '--format', 'json']),
      runCli(aws, t, ['lease', 'list', '--format', 'json']),
      runCli(aws, t, ['reconcile', '--repo', repo, '--format', 'json']),
    ]);
    // What the operator sees must still make sense: the lease is listed by id, not by secret.
    expect(outputs[3]!.stdout).toContain('aws/creds/deploy/');

    // Everything the state holds: the SQLite files as bytes, and every item of the state as exported.
    const stateFiles = [
      ...readdirSync(t.dir)
        .filter((f) => f.startsWith('state.db'))
        .map((f) => readFileSync(join(t.dir, f)).toString('latin1')),
      JSON.stringify(await t.state.exportAll()),
    ];
    const everything = [...stateFiles, readFileSync(t.auditPath, 'utf8'), ...outputs.flatMap((o) => [o.stdout, o.stderr])];
    for (const secret of secrets) {
      for (const text of everything) expect(text.includes(secret)).toBe(false);
    }
  });
});
