/**
 * Story (issue #12, point 6): a vendor integration needs a long-lived key of
 * an existing IAM user. A static role (static-roles/NAME.json, Vault's
 * aws/static-roles/NAME) has credops replace that key every rotation_period,
 * with no gap: the new key is created and accepted by STS, every sink gets it,
 * and only then is the old key deleted. `credops static-creds` prints it as
 * `vault read aws/static-creds/NAME` does. Removing the static role from git
 * stops the rotation and never deletes the user.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { childEnv } from '../support/aws/index.js';
import { callerIdentity, eachTestWorld, rejectionCode, runCli, type LocalAws, type TempState } from './helpers.js';

const DAY_MS = 24 * 3600 * 1000;
const STATE_KEY = 'c3RhdGljLXJvbGVzLXRlc3Qta2V5LTMyLWJ5dGVzISE='; // 32 bytes, base64

let aws: LocalAws;
let t: TempState;
let dir: string;
let repo: string;
let clockFile: string;
let original: { accessKeyId: string; secretAccessKey: string };

eachTestWorld((w) => ({ aws, t } = w));

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'credops-static-'));
  repo = join(dir, 'repo');
  mkdirSync(join(repo, 'static-roles'), { recursive: true });
  mkdirSync(join(repo, 'sinks'));
  writeFileSync(join(repo, 'static-roles/vendor.json'), JSON.stringify({ username: 'vendor-bot', rotation_period: '24h' }));
  writeFileSync(join(repo, 'sinks/vendor.yaml'), 'static_role: vendor\nsecretsmanager:\n  name: vendor/aws\n');
  clockFile = join(dir, 'clock');
  writeFileSync(clockFile, '0');
  aws.iam.createUser('vendor-bot');
  // The key the vendor was given by hand, before credops.
  original = aws.iam.createAccessKey('vendor-bot');
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

const credops = (args: string[], env: Record<string, string> = {}) => runCli(aws, t, args, { CREDOPS_STATE_KEY: STATE_KEY, CREDOPS_TEST_CLOCK_FILE: clockFile, ...env });
const keysOf = (user: string) => aws.iam.accessKeys().filter((k) => k.userName === user).map((k) => k.accessKeyId).sort();
const delivered = () => JSON.parse(aws.secrets.get('vendor/aws')!.value!) as { AccessKeyId: string; SecretAccessKey: string; Expiration: string };
const advanceDays = (days: number) => writeFileSync(clockFile, String(days * DAY_MS + 1000));

describe('static roles', () => {
  it('the user has one working key after three rotations, and its sink never held a dead key', async () => {
    const first = await credops(['reconcile', '--repo', repo]);
    expect(first.code, first.stderr).toBe(0);
    const firstKey = delivered();
    // credops made its own key; the key made by hand stays until the first rotation (a slot is free).
    expect(keysOf('vendor-bot')).toEqual([original.accessKeyId, firstKey.AccessKeyId].sort());
    expect((await callerIdentity(aws, { accessKeyId: firstKey.AccessKeyId, secretAccessKey: firstKey.SecretAccessKey })).Arn).toContain('user/vendor-bot');
    expect(first.stderr).toContain('static role aws/vendor (user vendor-bot): rotated');

    let previous = firstKey;
    for (let round = 1; round <= 3; round++) {
      aws.resetCalls();
      advanceDays(round);
      const run = await credops(['reconcile', '--repo', repo]);
      expect(run.code, run.stderr).toBe(0);
      const now = delivered();
      expect(now.AccessKeyId).not.toBe(previous.AccessKeyId);
      // Exactly one key left, the one the sink holds, and it works.
      expect(keysOf('vendor-bot')).toEqual([now.AccessKeyId]);
      expect((await callerIdentity(aws, { accessKeyId: now.AccessKeyId, secretAccessKey: now.SecretAccessKey })).Arn).toContain('user/vendor-bot');
      expect(await rejectionCode(callerIdentity(aws, { accessKeyId: previous.AccessKeyId, secretAccessKey: previous.SecretAccessKey }))).toBe('InvalidClientTokenId');

      // What AWS received, in order: the new key, STS accepting it, the sink receiving it, and only then the old key deleted.
      const order = aws.calls.filter((c) => c.status === 200).map((c) => `${c.action} ${c.accessKeyId === now.AccessKeyId ? 'new' : (c.resource ?? '')}`);
      const at = (entry: string) => order.indexOf(entry);
      expect(at('CreateAccessKey vendor-bot')).toBeGreaterThanOrEqual(0);
      expect(at('GetCallerIdentity new')).toBeGreaterThan(at('CreateAccessKey vendor-bot'));
      expect(at('PutSecretValue vendor/aws')).toBeGreaterThan(at('GetCallerIdentity new'));
      expect(at(`DeleteAccessKey ${previous.AccessKeyId}`)).toBeGreaterThan(at('PutSecretValue vendor/aws'));
      if (round === 1) expect(order).toContain(`DeleteAccessKey ${original.accessKeyId}`);
      previous = now;
    }

    // Not due again: no AWS write.
    aws.resetCalls();
    const quiet = await credops(['reconcile', '--repo', repo]);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(aws.calls.filter((c) => /^(Create|Delete|Put)/.test(c.action))).toEqual([]);
  });

  it('static-creds and `read aws/static-creds/NAME` print the current key with Vault\'s fields', async () => {
    expect((await credops(['reconcile', '--repo', repo])).code).toBe(0);
    const key = delivered();
    const table = await credops(['static-creds', 'vendor']);
    expect(table.code, table.stderr).toBe(0);
    const rows = table.stdout.trim().split('\n').map((l) => l.split(/\s{2,}/));
    expect(rows.map((r) => r[0])).toEqual(['Key', '---', 'access_key', 'expiration', 'secret_key']);
    expect(rows[2]![1]).toBe(key.AccessKeyId);
    expect(rows[4]![1]).toBe(key.SecretAccessKey);

    const json = await credops(['read', '-format=json', 'aws/static-creds/vendor']);
    expect(json.code, json.stderr).toBe(0);
    const body = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(['request_id', 'lease_id', 'lease_duration', 'renewable', 'data', 'warnings']);
    expect(body).toMatchObject({ lease_id: '', lease_duration: 0, renewable: false, data: { access_key: key.AccessKeyId, secret_key: key.SecretAccessKey } });
    // expiration: the next rotation, a rotation_period after this one.
    const expiration = Date.parse((body.data as { expiration: string }).expiration);
    expect(expiration - Date.now()).toBeGreaterThan(DAY_MS - 60_000);
    expect(expiration - Date.now()).toBeLessThanOrEqual(DAY_MS);

    // The secret is in the state only encrypted; without the key, static-creds says what is missing.
    const without = await runCli(aws, t, ['static-creds', 'vendor'], { CREDOPS_STATE_KEY: '' });
    expect(without.code).toBe(1);
    expect(without.stderr).toContain('CREDOPS_STATE_KEY is not set');
    expect(without.stderr).not.toContain(key.SecretAccessKey);
    // status: the static sink holds the static role's key until its next rotation.
    const status = JSON.parse((await credops(['status', '--format', 'json'])).stdout) as { sinks: Record<string, unknown>[] };
    expect(status.sinks).toEqual([expect.objectContaining({ name: 'vendor', role: 'static-roles/vendor', lease_id: 'aws/static-creds/vendor', next_action: 'rotate' })]);
    const unknown = await credops(['static-creds', 'vendr']);
    expect(unknown.stderr).toContain('No value found at aws/static-creds/vendr');
  });

  it('the plan shows the static role and its next rotation; removing it stops the rotation and keeps the user', async () => {
    const plan = await credops(['plan', '--repo', repo]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('+ static role aws/vendor (static-roles/vendor.json)');
    expect(plan.stdout).toContain('credops makes a new access key for IAM user vendor-bot now');
    expect(plan.stdout).toContain('static role aws/vendor (user vendor-bot): rotates now (new static role: credops makes its first key)');

    expect((await credops(['reconcile', '--repo', repo])).code).toBe(0);
    const ours = delivered().AccessKeyId;
    const later = await credops(['plan', '--repo', repo, '--detailed-exitcode']);
    expect(later.code, later.stdout).toBe(0);
    expect(later.stdout).toMatch(/static role aws\/vendor \(user vendor-bot\): next rotation \d{4}-\d\d-\d\dT[\d:]+Z \(in 2[34]h/);
    advanceDays(1);
    const due = await credops(['plan', '--repo', repo, '--detailed-exitcode', '--format', 'json']);
    expect(due.code).toBe(2);
    expect((JSON.parse(due.stdout) as { static_rotations: unknown[] }).static_rotations).toEqual([
      { mount: 'aws', name: 'vendor', username: 'vendor-bot', next_rotation: null, due: 'rotation_period passed' },
    ]);
    writeFileSync(clockFile, '0');

    rmSync(join(repo, 'static-roles/vendor.json'));
    rmSync(join(repo, 'sinks/vendor.yaml'));
    const removal = await credops(['plan', '--repo', repo]);
    expect(removal.stdout).toContain('- static role aws/vendor (static-roles/vendor.json)');
    expect(removal.stdout).toContain('credops stops rotating IAM user vendor-bot: the keys it made are deleted, the user is kept');
    const applied = await credops(['reconcile', '--repo', repo]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stderr).toContain(`static role aws/vendor (user vendor-bot): no longer managed (removed from the repo); deleted ${ours}; the user is kept`);
    expect(aws.iam.user('vendor-bot')).toBeDefined();
    expect(keysOf('vendor-bot')).toEqual([original.accessKeyId]);
    expect((await credops(['static-creds', 'vendor'])).stderr).toContain('No value found at aws/static-creds/vendor');
  });

  it('a crash after CreateAccessKey leaves no key behind: the next run deletes it and finishes the rotation', async () => {
    // Calls of a first reconcile: ListAccessKeys, then CreateAccessKey; die right after it succeeds.
    const crashed = await credops(['reconcile', '--repo', repo], { CREDOPS_TEST_CRASH_AFTER_CALL: '2' });
    expect(crashed.signal).toBe('SIGKILL');
    const made = keysOf('vendor-bot').filter((k) => k !== original.accessKeyId);
    expect(made).toHaveLength(1);
    const again = await credops(['reconcile', '--repo', repo]);
    expect(again.code, again.stderr).toBe(0);
    const key = delivered().AccessKeyId;
    expect(key).not.toBe(made[0]);
    expect(keysOf('vendor-bot')).toEqual([original.accessKeyId, key].sort());
  });

  it('a crash after any AWS call of a rotation leaves the sink with a working key and the user with no key the state does not know', async () => {
    expect((await credops(['reconcile', '--repo', repo])).code).toBe(0);
    for (let call = 1, day = 1; call <= 8; call++, day++) {
      advanceDays(day);
      const crashed = await credops(['reconcile', '--repo', repo], { CREDOPS_TEST_CRASH_AFTER_CALL: String(call) });
      expect(crashed.signal === 'SIGKILL' || crashed.code === 0, `call ${call}: ${crashed.stderr}`).toBe(true);
      const after = await credops(['reconcile', '--repo', repo]);
      expect(after.code, `call ${call}: ${after.stderr}`).toBe(0);
      const key = delivered();
      expect((await callerIdentity(aws, { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey })).Arn, `call ${call}`).toContain('user/vendor-bot');
      // The only key left besides the one the sink holds is the one made by hand, until the first rotation deletes it.
      expect(keysOf('vendor-bot').filter((k) => k !== key.AccessKeyId && k !== original.accessKeyId), `call ${call}`).toEqual([]);
      const shown = await credops(['static-creds', 'vendor', '--format', 'json']);
      expect((JSON.parse(shown.stdout) as { data: { access_key: string } }).data.access_key, `call ${call}`).toBe(key.AccessKeyId);
    }
  });

  it('refuses a user that does not exist, and one with both key slots taken by keys it did not make', async () => {
    writeFileSync(join(repo, 'static-roles/vendor.json'), JSON.stringify({ username: 'nobody', rotation_period: 3600 }));
    const missing = await credops(['reconcile', '--repo', repo]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('IAM user "nobody" does not exist');

    writeFileSync(join(repo, 'static-roles/vendor.json'), JSON.stringify({ username: 'vendor-bot', rotation_period: 3600 }));
    const second = aws.iam.createAccessKey('vendor-bot');
    const full = await credops(['reconcile', '--repo', repo]);
    expect(full.code).toBe(1);
    expect(full.stderr).toContain(`already has 2 access keys (${original.accessKeyId}, ${second.accessKeyId})`);
    expect(keysOf('vendor-bot')).toEqual([original.accessKeyId, second.accessKeyId].sort());
  });

  it('with assume_role_arn, manages a user of another account through that role', async () => {
    const rotator = aws.iam.createRole('key-rotator', { accountId: '210987654321', externalId: 'vendor-x' }).arn;
    writeFileSync(join(repo, 'static-roles/vendor.json'), JSON.stringify({ username: 'vendor-bot', rotation_period: '24h', assume_role_arn: rotator, external_id: 'vendor-x' }));
    const run = await credops(['reconcile', '--repo', repo]);
    expect(run.code, run.stderr).toBe(0);
    const session = aws.iam.sessions().find((s) => s.roleArn === rotator);
    expect(session).toMatchObject({ roleSessionName: 'credops-static-vendor', externalId: 'vendor-x' });
    const create = aws.calls.filter((c) => c.action === 'CreateAccessKey');
    expect(create.map((c) => c.accessKeyId)).toEqual([session!.accessKeyId]);
  });

  it('watch rotates when the rotation_period passes on its clock, without waiting for --interval', async () => {
    writeFileSync(join(repo, 'static-roles/vendor.json'), JSON.stringify({ username: 'vendor-bot', rotation_period: '1h' }));
    const cli = join(resolve(import.meta.dirname, '../..'), 'test/github/cli.ts');
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const env = {
      ...childEnv(aws),
      CREDOPS_STATE: t.url,
      CREDOPS_AUDIT_LOG: t.auditPath,
      CREDOPS_STATE_KEY: STATE_KEY,
      CREDOPS_TEST_CLOCK_FILE: clockFile,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
    const proc = spawn(process.execPath, ['--import', tsx, cli, 'watch', '--repo', repo, '--interval', '10m'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
    const rotations = () => stdout.split('\n').filter((l) => l.includes('"event":"static_role.rotated"')).length;
    const waitFor = async (n: number) => {
      const started = Date.now();
      while (rotations() < n && Date.now() - started < 30_000) await new Promise((r) => setTimeout(r, 100));
      return rotations();
    };
    try {
      expect(await waitFor(1), stdout).toBe(1);
      const first = delivered().AccessKeyId;
      writeFileSync(clockFile, String(3600 * 1000 + 1000));
      expect(await waitFor(2), stdout).toBe(2);
      const second = delivered().AccessKeyId;
      expect(second).not.toBe(first);
      expect(keysOf('vendor-bot')).toEqual([second]);
    } finally {
      proc.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });
});
