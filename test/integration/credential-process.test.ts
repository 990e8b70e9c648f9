/**
 * Story: a developer puts
 *
 *   [profile deploy]
 *   credential_process = credops credential-process deploy
 *
 * in ~/.aws/config. Every AWS SDK client they start runs that command; credops
 * hands out one credential and keeps handing out the same one while its lease
 * is alive, without ever writing the secret to the state. Here the AWS SDK for
 * JavaScript itself (fromProcess) runs the command and signs real calls.
 */
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromProcess } from '@aws-sdk/credential-providers';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { REUSE_MARGIN_SECONDS } from '../../src/cli/credential-cache.js';
import { localAwsEnv } from '../support/aws/index.js';
import {
  eachTestWorld,
  applyRoles,
  callerIdentity,
  mount,
  rejectionCode,
  role,
  runCli,
  S3_READ,
  type LocalAws,
  type TempState,
} from './helpers.js';

const REPO_ROOT = resolve(import.meta.dirname, '../..');
/** The CLI from source; test/github/cli.ts is the entry other child-process tests run. */
const CLI = join(REPO_ROOT, 'test/github/cli.ts');
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const STATE_KEY = 'q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80='; // 32 bytes, base64

let aws: LocalAws;
let t: TempState;
let dir: string;
let configFile: string;
let cacheDir: string;

eachTestWorld((w) => ({ aws, t } = w));

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'credops-credproc-'));
  configFile = join(dir, 'config');
  cacheDir = join(dir, 'cache');
  aws.iam.createRole('deployer');
  await applyRoles(
    t.state,
    [
      role('deploy', { credential_types: ['iam_user'], policy_document: S3_READ }),
      role('ci', { credential_types: ['assumed_role'], role_arns: [`arn:aws:iam::${aws.accountId}:role/deployer`] }),
    ],
    [mount({ lease: 3600, lease_max: 3600 })],
  );
  // What the developer's shell gives every program, and so the SDK gives credential_process.
  const env = {
    ...localAwsEnv(aws),
    CREDOPS_STATE: t.url,
    CREDOPS_AUDIT_LOG: t.auditPath,
    CREDOPS_CACHE_DIR: cacheDir,
    // Where the cache key is made without CREDOPS_STATE_KEY: inside the test's directory, not the user's home.
    XDG_CONFIG_HOME: join(dir, 'xdg-config'),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
  aws.resetCalls();
});

afterEach(async () => {
  vi.unstubAllEnvs();
  rmSync(dir, { recursive: true, force: true });
});

/** ~/.aws/config with one profile per role, each running `credops credential-process ROLE ...`. */
function awsConfig(profiles: Record<string, string[]>): void {
  const command = (args: string[]) => [process.execPath, '--import', TSX, CLI, 'credential-process', ...args].map((a) => JSON.stringify(a)).join(' ');
  writeFileSync(configFile, Object.entries(profiles).map(([p, args]) => `[profile ${p}]\ncredential_process = ${command(args)}\n`).join('\n'));
}

/** A fresh provider each time, as a new program would have: the SDK runs the command again. */
const provider = (profile: string) => fromProcess({ profile, configFilepath: configFile, filepath: join(dir, 'no-credentials-file') });

async function sdkCallerIdentity(profile: string) {
  const sts = new STSClient({ region: aws.region, endpoint: aws.url, credentials: provider(profile), maxAttempts: 1 });
  try {
    return await sts.send(new GetCallerIdentityCommand({}));
  } finally {
    sts.destroy();
  }
}

const count = (action: string) => aws.calls.filter((c) => c.action === action && c.status < 300).length;

/** Every byte credops keeps in the state's directory: the database, its WAL, the audit log. */
function stateBytes(): string {
  return readdirSync(t.dir)
    .map((f) => readFileSync(join(t.dir, f)).toString('latin1'))
    .join('\n');
}

describe('credential_process for the AWS SDK', () => {
  it('the SDK gets an iam_user key that works, and every later SDK client gets the same one', async () => {
    awsConfig({ deploy: ['deploy'] });

    const first = await sdkCallerIdentity('deploy');
    expect(first.Arn).toMatch(new RegExp(`^arn:aws:iam::${aws.accountId}:user/.*deploy`));
    const second = await sdkCallerIdentity('deploy');
    expect(second.Arn).toBe(first.Arn);
    const creds = await provider('deploy')();

    // One user and one key for all three SDK clients.
    expect(count('CreateUser')).toBe(1);
    expect(count('CreateAccessKey')).toBe(1);
    const leases = await t.state.listLeases();
    expect(leases).toHaveLength(1);
    expect(leases[0]!.resources.accessKeyId).toBe(creds.accessKeyId);
    // An IAM user key has no session token; it expires with its lease (1h), which the SDK is told.
    expect(creds.sessionToken).toBeUndefined();
    expect(creds.expiration?.getTime()).toBe(leases[0]!.expiresAt);

    // The secret is in the cache file only (0600 in a 0700 directory), never in the state or the audit log.
    expect(stateBytes()).not.toContain(creds.secretAccessKey);
    const [entry, ...others] = readdirSync(cacheDir);
    expect(others).toEqual([]);
    expect(statSync(cacheDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(cacheDir, entry!)).mode & 0o777).toBe(0o600);
    expect(entry).toMatch(/^[0-9a-f]{32}\.json$/);
  });

  it('a revoked lease is not handed out again: the next SDK client gets a new key, and it works', async () => {
    awsConfig({ deploy: ['deploy'] });
    const old = await provider('deploy')();
    const [lease] = await t.state.listLeases();
    const revoke = await runCli(aws, t, ['lease', 'revoke', lease!.leaseId]);
    expect(revoke.code).toBe(0);
    expect(await rejectionCode(callerIdentity(aws, old))).toBe('InvalidClientTokenId');

    const identity = await sdkCallerIdentity('deploy');
    expect(identity.Arn).toMatch(/:user\/.*deploy/);
    const renewed = await provider('deploy')();
    expect(renewed.accessKeyId).not.toBe(old.accessKeyId);
    expect(count('CreateAccessKey')).toBe(2);
  });

  it('an assumed_role credential carries its session token and AWS expiry', async () => {
    awsConfig({ ci: ['ci', '--ttl', '30m'] });
    const identity = await sdkCallerIdentity('ci');
    expect(identity.Arn).toMatch(new RegExp(`^arn:aws:sts::${aws.accountId}:assumed-role/deployer/`));
    const creds = await provider('ci')();
    expect(creds.sessionToken).toBeTruthy();
    const expiresIn = creds.expiration!.getTime() - Date.now();
    expect(expiresIn).toBeGreaterThan(25 * 60_000);
    expect(expiresIn).toBeLessThanOrEqual(30 * 60_000);
    expect(count('AssumeRole')).toBe(1);
  });
});

describe('reuse rules', () => {
  it('two calls at once issue one credential: the second waits for the first and reuses it', async () => {
    const [a, b] = await Promise.all([
      runCli(aws, t, ['credential-process', 'deploy'], { CREDOPS_CACHE_DIR: cacheDir }),
      runCli(aws, t, ['credential-process', 'deploy'], { CREDOPS_CACHE_DIR: cacheDir }),
    ]);
    expect([a.code, b.code, a.stderr, b.stderr]).toEqual([0, 0, '', '']);
    expect(JSON.parse(a.stdout).AccessKeyId).toBe(JSON.parse(b.stdout).AccessKeyId);
    expect(count('CreateUser')).toBe(1);
  });

  it(`a credential with less than ${REUSE_MARGIN_SECONDS / 60} minutes left is never handed out again (the SDKs would ask again at once)`, async () => {
    const run = () => runCli(aws, t, ['credential-process', 'deploy', '--ttl', '10m'], { CREDOPS_CACHE_DIR: cacheDir });
    const first = JSON.parse((await run()).stdout);
    const second = JSON.parse((await run()).stdout);
    expect(second.AccessKeyId).not.toBe(first.AccessKeyId);
    expect(Date.parse(first.Expiration) - Date.now()).toBeLessThanOrEqual(10 * 60_000);
    expect(Object.keys(first)).toEqual(['Version', 'AccessKeyId', 'SecretAccessKey', 'Expiration']);
  });

  it('with CREDOPS_STATE_KEY the cache is encrypted; another key cannot read it and a new credential is issued', async () => {
    const run = (key: string) => runCli(aws, t, ['credential-process', 'deploy'], { CREDOPS_CACHE_DIR: cacheDir, CREDOPS_STATE_KEY: key });
    const first = JSON.parse((await run(STATE_KEY)).stdout);
    const again = JSON.parse((await run(STATE_KEY)).stdout);
    expect(again.AccessKeyId).toBe(first.AccessKeyId);
    const [entry] = readdirSync(cacheDir);
    const raw = readFileSync(join(cacheDir, entry!), 'utf8');
    expect(raw).not.toContain(first.SecretAccessKey);
    expect(raw).not.toContain(first.AccessKeyId);
    expect(count('CreateAccessKey')).toBe(1);

    const other = await run('another passphrase, long enough to be one');
    expect(other.code).toBe(0);
    expect(JSON.parse(other.stdout).AccessKeyId).not.toBe(first.AccessKeyId);
    expect(count('CreateAccessKey')).toBe(2);
  });

  it('without CREDOPS_STATE_KEY the cache is still never plaintext: a random key of the user, kept apart, encrypts it', async () => {
    const run = () => runCli(aws, t, ['credential-process', 'deploy'], { CREDOPS_CACHE_DIR: cacheDir, CREDOPS_STATE_KEY: '' });
    const first = JSON.parse((await run()).stdout);
    const again = JSON.parse((await run()).stdout);
    expect(again.AccessKeyId).toBe(first.AccessKeyId);
    const [entry] = readdirSync(cacheDir);
    const raw = readFileSync(join(cacheDir, entry!), 'utf8');
    expect(raw).not.toContain(first.SecretAccessKey);
    expect(raw).not.toContain(first.AccessKeyId);
    const keyFile = join(dir, 'xdg-config', 'credops', 'cache.key');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(keyFile, 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
    expect(count('CreateAccessKey')).toBe(1);
  });

  it('an unknown role is an error on stderr, nothing on stdout, and the SDK reports it', async () => {
    const res = await runCli(aws, t, ['credential-process', 'nope'], { CREDOPS_CACHE_DIR: cacheDir });
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toContain('role "nope" not found in mount "aws"');
    awsConfig({ nope: ['nope'] });
    await expect(provider('nope')()).rejects.toThrow(/role "nope" not found/);
  });
});
