/**
 * The root identity story: an operator stores credops's IAM user key with
 * `credops config root` (secret on stdin, never shown again), then
 * `credops config rotate-root` replaces it with a key only credops knows. The
 * old key must stop working, the user must keep exactly one key, and no
 * failure or crash on the way may leave a key the state does not know.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit.js';
import { TEST_CRASH_AFTER_CALL_ENV } from '../../src/aws/clients.js';
import { awsClientsFor, rootCredentials } from '../../src/engine/root.js';
import { readStoredRootKeys } from '../../src/state/root-keys.js';
import { main } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/runtime.js';
import type { Clock } from '../../src/clock.js';
import { USABLE_TIMEOUT_MS } from '../../src/engine/index.js';
import { rootRotationDue, rotateRoot } from '../../src/engine/root.js';
import { openState } from '../../src/state/index.js';
import { localAwsEnv, startLocalAws, type LocalAws } from '../support/aws/index.js';
import { callerIdentity, rejectionCode, runCli, type TempState } from './helpers.js';

const STATE_KEY = randomBytes(32).toString('base64');

let aws: LocalAws;
/** The root user's current key, as the operator knows it. */
let root: { accessKeyId: string; secretAccessKey: string; userName: string };
let dir: string;
let stateUrl: string;
let auditPath: string;
let env: NodeJS.ProcessEnv;

beforeEach(async () => {
  aws = await startLocalAws();
  root = { ...aws.root };
  dir = mkdtempSync(join(tmpdir(), 'credops-rotate-root-'));
  stateUrl = `sqlite:${join(dir, 'state.db')}`;
  auditPath = join(dir, 'audit.log');
  // The endpoint, but no AWS_ACCESS_KEY_ID: whatever credops signs with must come from the state.
  const { AWS_ACCESS_KEY_ID: _id, AWS_SECRET_ACCESS_KEY: _secret, ...endpoint } = localAwsEnv(aws);
  env = { ...endpoint, CREDOPS_STATE: stateUrl, CREDOPS_STATE_KEY: STATE_KEY, CREDOPS_AUDIT_LOG: auditPath, NO_COLOR: '1' };
});

afterEach(async () => {
  await aws.close();
  rmSync(dir, { recursive: true, force: true });
});

/** `credops ARGS` in-process, with `stdin` as standard input. */
async function credops(args: string[], stdin = '') {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    stdout: (s) => void (stdout += s),
    stderr: (s) => void (stderr += s),
    readStdin: async () => stdin,
    isTTY: false,
    env,
    cwd: dir,
  };
  const code = await main(['node', 'credops', ...args], io);
  return { code, stdout, stderr };
}

async function storeRootKey() {
  const r = await credops(['config', 'root', '--access-key', root.accessKeyId], `${root.secretAccessKey}\n`);
  expect(r).toMatchObject({ code: 0, stderr: '' });
  return r;
}

/** The new key id from rotate-root's table: `access_key    AKIA...`, the only row. */
function rotatedKeyId(stdout: string): string {
  const m = /^Key {4,}Value\n--- {4,}-----\naccess_key {4}(\w+)\n$/.exec(stdout);
  if (!m) throw new Error(`unexpected rotate-root output:\n${stdout}`);
  return m[1]!;
}

async function storedRoot() {
  const state = await openState(stateUrl);
  try {
    const stored = await readStoredRootKeys(state, 'aws');
    const keys = stored ? await rootCredentials(state, env)('aws')() : undefined;
    return { stored, keys };
  } finally {
    await state.close();
  }
}

const keysOfRoot = () => aws.iam.user(root.userName)!.accessKeys.map((k) => k.accessKeyId);
const auditLines = () => readFileSync(auditPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('credops config root', () => {
  it('stores the key write-only: it shows the access key id and where the identity comes from, never the secret', async () => {
    const before = await credops(['config', 'root']);
    expect(before.code).toBe(0);
    expect(before.stdout).toMatch(/^source {4,}AWS SDK default credential chain/m);

    const stored = await storeRootKey();
    expect(stored.stdout).toBe(`Success! Data written to: aws/config/root (access key ${root.accessKeyId})\n`);

    const shown = await credops(['config', 'root', '--mount', 'aws']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`^access_key {4,}${root.accessKeyId}$`, 'm'));
    expect(shown.stdout).toMatch(/^source {4,}stored keys \(credops config root\)/m);
    expect(shown.stdout).not.toContain(root.secretAccessKey);
    expect(readFileSync(join(dir, 'state.db')).toString('latin1')).not.toContain(root.secretAccessKey);
    expect(readFileSync(auditPath, 'utf8')).not.toContain(root.secretAccessKey);
  });

  it('refuses an empty standard input, and stores nothing', async () => {
    const r = await credops(['config', 'root', '--access-key', root.accessKeyId], '  \n');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Error: no secret access key on standard input/);
    expect((await storedRoot()).stored).toBeUndefined();
  });

  it('does not echo a secret passed as --access-key by mistake', async () => {
    const r = await credops(['config', 'root', '--access-key', root.secretAccessKey], root.secretAccessKey);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not an AWS access key id/);
    expect(r.stderr).not.toContain(root.secretAccessKey);
    expect(readFileSync(auditPath, 'utf8')).not.toContain(root.secretAccessKey);
  });
});

describe('credops config rotate-root', () => {
  it('replaces the stored key with a new one: the new key works, the old one is refused, the user keeps one key', async () => {
    await storeRootKey();

    const r = await credops(['config', 'rotate-root']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const newKeyId = rotatedKeyId(r.stdout);
    expect(newKeyId).not.toBe(root.accessKeyId);

    expect(keysOfRoot()).toEqual([newKeyId]);
    expect(await rejectionCode(callerIdentity(aws, root))).toBe('InvalidClientTokenId');
    const { stored, keys } = await storedRoot();
    expect(stored).toMatchObject({ access_key_id: newKeyId, user_name: root.userName });
    expect((await callerIdentity(aws, keys!)).Arn).toBe(`arn:aws:iam::${aws.accountId}:user/${root.userName}`);

    // The rotated key is credops's own: it can rotate itself again.
    const again = await credops(['config', 'rotate-root', '--mount', 'aws']);
    expect(again.code).toBe(0);
    const third = rotatedKeyId(again.stdout);
    expect(keysOfRoot()).toEqual([third]);
    expect(await rejectionCode(callerIdentity(aws, keys!))).toBe('InvalidClientTokenId');

    const shown = await credops(['config', 'root']);
    expect(shown.stdout).toMatch(new RegExp(`^access_key {4,}${third}$`, 'm'));
    expect(shown.stdout).toMatch(new RegExp(`^user_name {4,}${root.userName}$`, 'm'));

    const audit = auditLines();
    expect(audit.map((l) => `${l.operation}:${l.outcome}`)).toEqual(['config-root:ok', 'rotate-root:ok', 'rotate-root:ok']);
    expect(audit[1]).toMatchObject({ mount: 'aws', details: { access_key_id: newKeyId, old_access_key_id: root.accessKeyId } });
    const log = readFileSync(auditPath, 'utf8');
    for (const secret of [root.secretAccessKey, keys!.secretAccessKey, STATE_KEY]) expect(log).not.toContain(secret);
  });

  it('waits until IAM accepts the new key before storing it and deleting the old one', async () => {
    await storeRootKey();
    // IAM's eventual consistency: the just-created key is refused a few times.
    aws.faults.failNext('sts:GetCallerIdentity', 'InvalidClientTokenId', 2);

    const r = await credops(['config', 'rotate-root']);
    expect(r.code).toBe(0);
    const newKeyId = rotatedKeyId(r.stdout);
    const tries = aws.calls.filter((c) => c.action === 'GetCallerIdentity');
    expect(tries.map((c) => `${c.accessKeyId}:${c.status}`)).toEqual([`${newKeyId}:403`, `${newKeyId}:403`, `${newKeyId}:200`]);
    const deletion = aws.calls.findIndex((c) => c.action === 'DeleteAccessKey');
    expect(deletion).toBeGreaterThan(aws.calls.indexOf(tries[2]!));
    expect(keysOfRoot()).toEqual([newKeyId]);
  });

  it('refuses when the user already has two keys, explains which, and changes nothing', async () => {
    await storeRootKey();
    const other = aws.iam.createAccessKey(root.userName);

    const r = await credops(['config', 'rotate-root']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`IAM user "${root.userName}" already has 2 access keys`);
    expect(r.stderr).toContain(`--access-key-id ${other.accessKeyId}`);
    expect(r.stdout).toBe('');
    expect(keysOfRoot()).toEqual([root.accessKeyId, other.accessKeyId]);
    expect((await storedRoot()).stored?.access_key_id).toBe(root.accessKeyId);
    expect((await callerIdentity(aws, root)).Arn).toContain(root.userName);
  });

  it('refuses an identity from the default chain: config root must come first', async () => {
    const r = await credops(['config', 'rotate-root']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no stored root keys.*default credential chain.*credops config root --mount aws --access-key ID/);
    expect(aws.calls).toEqual([]);
  });

  it('undoes the rotation when the old key cannot be deleted: the new key is deleted and the old one stays in use', async () => {
    await storeRootKey();
    aws.faults.failNext('iam:DeleteAccessKey', 'AccessDenied');

    const r = await credops(['config', 'rotate-root']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`the old key ${root.accessKeyId} could not be deleted: .*AccessDenied.*was deleted again`));
    expect(keysOfRoot()).toEqual([root.accessKeyId]);
    expect((await storedRoot()).stored?.access_key_id).toBe(root.accessKeyId);
    expect((await callerIdentity(aws, root)).Arn).toContain(root.userName);
    expect(auditLines().at(-1)).toMatchObject({ operation: 'rotate-root', outcome: 'error' });

    // Nothing is left behind: the next rotation starts clean.
    expect((await credops(['config', 'rotate-root'])).code).toBe(0);
    expect(keysOfRoot()).toHaveLength(1);
  });

  it('resolves a CreateAccessKey whose outcome is unknown at once, by reading the keys', async () => {
    await storeRootKey();
    aws.faults.failNext('iam:CreateAccessKey', 'ServiceUnavailable', 4);

    const failed = await credops(['config', 'rotate-root']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/ServiceUnavailable.*Mount "aws" still uses/);
    expect((await credops(['config', 'root'])).stdout).not.toContain('interrupted_rotation');
    expect(keysOfRoot()).toEqual([root.accessKeyId]);

    const r = await credops(['config', 'rotate-root']);
    expect(r.code).toBe(0);
    expect(keysOfRoot()).toEqual([rotatedKeyId(r.stdout)]);
  });

  for (const how of ['ServiceUnavailable', 'reset']) {
    it(`a key AWS created but whose answer was lost (${how}) is deleted, and the rotation completes with one key`, async () => {
      await storeRootKey();
      // The lost attempt's key takes the user's second slot: the SDK's retry hits LimitExceeded.
      aws.faults.loseResponse('CreateAccessKey', how, 1);
      const r = await credops(['config', 'rotate-root']);
      expect(r.code, r.stderr).toBe(0);
      const newKey = rotatedKeyId(r.stdout);
      expect(keysOfRoot()).toEqual([newKey]);
      expect((await storedRoot()).stored?.access_key_id).toBe(newKey);
      expect((await credops(['config', 'root'])).stdout).not.toContain('interrupted_rotation');
    });
  }

  it('a rotate-root killed after CreateAccessKey is finished by the next command of any kind', async () => {
    await storeRootKey();
    const t: TempState = { state: undefined as never, url: stateUrl, dir, auditPath, close: async () => {} };
    // GetUser, then CreateAccessKey: killed before the new key is stored.
    const crashed = await runCli(aws, t, ['config', 'rotate-root'], { CREDOPS_STATE_KEY: STATE_KEY, [TEST_CRASH_AFTER_CALL_ENV]: '2' });
    expect(crashed.signal).toBe('SIGKILL');
    expect(keysOfRoot()).toHaveLength(2);

    const list = await credops(['lease', 'list']);
    expect(list.code).toBe(0);
    expect(list.stderr).toMatch(/Finished an interrupted rotate-root: deleted the root key\(s\) it left, \w+/);
    expect(keysOfRoot()).toEqual([root.accessKeyId]);
    expect((await credops(['config', 'root'])).stdout).not.toContain('interrupted_rotation');
  });

  it('gives up when IAM never accepts the new key, and deletes it again', async () => {
    await storeRootKey();
    aws.faults.failNext('sts:GetCallerIdentity', 'InvalidClientTokenId', 1000);
    // The engine as the CLI builds it, on a clock whose sleeps take no time.
    let now = Date.parse('2025-01-01T00:00:00Z');
    const clock: Clock = { now: () => now, sleep: async (ms) => void (now += ms) };
    const state = await openState(stateUrl);
    try {
      const deps = { state, clients: awsClientsFor(state, env), clock, audit: new AuditLog(auditPath, clock), env };
      await expect(rotateRoot(deps, { mount: 'aws' })).rejects.toThrow(/did not accept the new key \w+ within 1m .*was deleted again; mount "aws" still uses/);
    } finally {
      await state.close();
    }
    const tries = aws.calls.filter((c) => c.action === 'GetCallerIdentity').length;
    expect(tries).toBeGreaterThan(5);
    expect(now - Date.parse('2025-01-01T00:00:00Z')).toBeLessThanOrEqual(USABLE_TIMEOUT_MS);
    expect(keysOfRoot()).toEqual([root.accessKeyId]);
    expect((await storedRoot()).stored?.access_key_id).toBe(root.accessKeyId);
  });

  it('leaves no key the state does not know when killed after any AWS call', async () => {
    const t: TempState = { state: undefined as never, url: stateUrl, dir, auditPath, close: async () => {} };
    // GetUser, CreateAccessKey, GetCallerIdentity (new key), DeleteAccessKey (old key).
    for (let call = 1; call <= 4; call++) {
      await storeRootKey();
      const crashed = await runCli(aws, t, ['config', 'rotate-root'], { CREDOPS_STATE_KEY: STATE_KEY, [TEST_CRASH_AFTER_CALL_ENV]: String(call) });
      expect(crashed.signal, `crash after call ${call}`).toBe('SIGKILL');

      const r = await credops(['config', 'rotate-root']);
      expect(r.code, `${r.stderr} (crash after call ${call})`).toBe(0);
      const newKeyId = rotatedKeyId(r.stdout);
      expect(keysOfRoot(), `crash after call ${call}`).toEqual([newKeyId]);
      const { stored, keys } = await storedRoot();
      expect(stored?.access_key_id).toBe(newKeyId);
      expect((await callerIdentity(aws, keys!)).Arn).toContain(root.userName);

      // Next round starts from a fresh root key stored by the operator.
      const fresh = aws.iam.createAccessKey(root.userName);
      aws.iam.deleteAccessKey(newKeyId);
      root = { ...root, ...fresh };
    }
  });
});

describe('scheduled rotation (rotation_period, rotation_schedule)', () => {
  it('reconcile rotates the stored root key once its rotation_period has passed, and not before', async () => {
    const repo = join(dir, 'repo');
    mkdirSync(repo);
    writeFileSync(join(repo, 'credops.yaml'), 'version: 1\nmounts:\n  aws:\n    region: us-east-1\n    rotation_period: 30d\n');
    // reconcile's clock is the wall clock plus this file's milliseconds (cli/test-clock.ts).
    const clockFile = join(dir, 'clock');
    writeFileSync(clockFile, '0');
    env = { ...env, CREDOPS_TEST_CLOCK_FILE: clockFile };
    await storeRootKey();

    const early = await credops(['reconcile', '--repo', repo]);
    expect(early.code).toBe(0);
    expect(early.stderr).not.toContain('Rotated the root key');
    expect(keysOfRoot()).toEqual([root.accessKeyId]);

    writeFileSync(clockFile, String(30 * 24 * 3600 * 1000 + 1000));
    const due = await credops(['reconcile', '--repo', repo]);
    expect(due.code).toBe(0);
    const [newKey] = keysOfRoot();
    expect(newKey).not.toBe(root.accessKeyId);
    expect(due.stderr).toContain(`Rotated the root key of mount aws (rotation due): ${root.accessKeyId} replaced by ${newKey}.`);
    expect(await rejectionCode(callerIdentity(aws, root))).toBe('InvalidClientTokenId');
    expect((await storedRoot()).keys?.accessKeyId).toBe(newKey);

    // Stored just now: not due again.
    const again = await credops(['reconcile', '--repo', repo]);
    expect(again.stderr).not.toContain('Rotated the root key');
    expect(keysOfRoot()).toEqual([newKey]);
  });

  it('a rotation_schedule is due at its first time after the key was stored (UTC)', () => {
    const stored = Date.parse('2026-12-02T10:00:00Z'); // a Wednesday
    const weekly = { rotation_schedule: '0 3 * * SAT' };
    expect(rootRotationDue(weekly, stored, Date.parse('2026-12-05T02:59:59Z'))).toBe(false);
    expect(rootRotationDue(weekly, stored, Date.parse('2026-12-05T03:00:00Z'))).toBe(true);
    expect(rootRotationDue({ rotation_period: 3600 }, stored, stored + 3_599_000)).toBe(false);
    expect(rootRotationDue({ rotation_period: 3600 }, stored, stored + 3_600_000)).toBe(true);
    expect(rootRotationDue({}, stored, stored + 1e12)).toBe(false);
  });
});
