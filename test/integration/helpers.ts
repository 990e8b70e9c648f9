/**
 * Shared by the integration stories: the local AWS endpoint, a temporary
 * SQLite state with roles applied, an Engine wired to both, and the CLI run
 * as a real child process.
 */
import { GetCallerIdentityCommand, STSClient, type GetCallerIdentityCommandOutput } from '@aws-sdk/client-sts';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AuditLog } from '../../src/audit.js';
import type { AwsClients } from '../../src/aws/clients.js';
import { awsClientsFor } from '../../src/engine/root.js';
import type { Clock } from '../../src/clock.js';
import { Engine, type IssuedCredential } from '../../src/engine/index.js';
import type { MountConfig, RoleSpec } from '../../src/model/types.js';
import { openState } from '../../src/state/index.js';
import type { StateStore } from '../../src/state/store.js';
import { afterEach, beforeEach } from 'vitest';
import { childEnv, localAwsClientConfig, localAwsEnv, startLocalAws, type LocalAws } from '../support/aws/index.js';

export { startLocalAws, type LocalAws };

export const HOUR = 3600;
export const VAULT_DEFAULT_LEASE = 768 * HOUR;

export function mount(overrides: Partial<MountConfig> = {}): MountConfig {
  return { name: 'aws', lease: VAULT_DEFAULT_LEASE, lease_max: VAULT_DEFAULT_LEASE, roles: 'roles/*.json', ...overrides };
}

/** A normalised role as the repo loader would produce it, with Vault's empty defaults. */
export function role(name: string, spec: Partial<RoleSpec> & Pick<RoleSpec, 'credential_types'>): RoleSpec {
  return {
    mount: 'aws',
    name,
    source: `roles/${name}.json`,
    policy_arns: [],
    iam_groups: [],
    role_arns: [],
    iam_tags: {},
    session_tags: {},
    ...spec,
  };
}

export const S3_READ = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow' as const, Action: ['s3:GetObject', 's3:ListBucket'], Resource: '*' }],
};

/** A clock that moves only when told to (sleep returns at once, after moving it). */
export function manualClock(start = Date.now()): Clock & { advance(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
    advance: (ms) => {
      now += ms;
    },
  };
}

export interface TempState {
  state: StateStore;
  url: string;
  dir: string;
  auditPath: string;
  close(): Promise<void>;
}

/**
 * A state a child process can open too: a SQLite file in a fresh temp dir, or
 * the URL given (a DynamoDB state, test/support/dynamodb.ts). The temp dir
 * holds the audit log either way.
 */
export async function tempState(stateUrl?: string): Promise<TempState> {
  const dir = mkdtempSync(join(tmpdir(), 'credops-engine-'));
  const url = stateUrl ?? `sqlite:${join(dir, 'state.db')}`;
  const state = await openState(url);
  return {
    state,
    url,
    dir,
    auditPath: join(dir, 'audit.log'),
    close: async () => {
      await state.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function applyRoles(state: StateStore, roles: RoleSpec[], mounts: MountConfig[] = [mount()]): Promise<void> {
  await state.apply({ commit: 'test', roles, sinks: [], mounts });
}

export interface TestEngine {
  engine: Engine;
  clients: AwsClients;
  audit: AuditLog;
}

/** The engine as the CLI builds it, pointed at the local endpoint through the env, as in production. */
export function engineFor(aws: LocalAws, t: TempState, opts: { clock?: Clock; env?: NodeJS.ProcessEnv } = {}): TestEngine {
  const env = { ...localAwsEnv(aws), ...opts.env };
  const clients = awsClientsFor(t.state, env);
  const audit = new AuditLog(t.auditPath, opts.clock);
  const engine = new Engine({ state: t.state, clients, clock: opts.clock ?? aws.clock, audit });
  return { engine, clients, audit };
}

/** GetCallerIdentity signed with an issued credential: the proof that it works. */
export async function callerIdentity(aws: LocalAws, cred: Pick<IssuedCredential, 'accessKeyId' | 'secretAccessKey' | 'sessionToken'>): Promise<GetCallerIdentityCommandOutput> {
  const sts = new STSClient({
    ...localAwsClientConfig(aws, {
      accessKeyId: cred.accessKeyId,
      secretAccessKey: cred.secretAccessKey,
      ...(cred.sessionToken ? { sessionToken: cred.sessionToken } : {}),
    }),
    maxAttempts: 1,
  });
  try {
    return await sts.send(new GetCallerIdentityCommand({}));
  } finally {
    sts.destroy();
  }
}

/** The AWS error code a promise rejects with ('' if it resolves). */
export async function rejectionCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return '';
  } catch (err) {
    return (err as { Code?: string; name?: string }).Code ?? (err as Error).name;
  }
}

/** The error a promise rejects with; a promise that resolves fails the test. */
export async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure, but it succeeded');
}

/** Users the endpoint holds besides the root identity. */
export function credopsUsers(aws: LocalAws) {
  return aws.iam.users().filter((u) => u.userName !== aws.root.userName);
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const REPO_ROOT = resolve(import.meta.dirname, '../..');
const MAIN = pathToFileURL(join(REPO_ROOT, 'src/cli/main.ts')).href;
const ENTRY = `const { main } = await import(${JSON.stringify(MAIN)}); process.exitCode = await main(['node', 'credops', ...process.argv.slice(1)]);`;

/** Runs `credops ARGS` as a child process (the TypeScript sources through tsx), against the local endpoint. */
export function runCli(aws: LocalAws, t: TempState, args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> {
  const env = {
    ...childEnv(aws),
    CREDOPS_STATE: t.url,
    CREDOPS_AUDIT_LOG: t.auditPath,
    NO_COLOR: '1',
    // The SDK warns on every run under Node 20 that later versions need Node 22; not what these tests read.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...extraEnv,
  };
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', ENTRY, '--', ...args], {
      // The repo root, where `--import tsx` resolves; the state and audit paths are absolute.
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
  });
}

export interface World {
  aws: LocalAws;
  t: TempState;
}

/**
 * The world of an integration story: a fresh local AWS endpoint and temp
 * state for each test of the file, closed after it. `bind` hands them to the
 * file's variables; the file's own beforeEach (roles, groups) runs after this one.
 * `stateUrl` gives another state than a SQLite file (test/state/backends.ts).
 */
export function eachTestWorld(bind: (w: World) => void, opts: Parameters<typeof startLocalAws>[0] & { stateUrl?: () => Promise<string | undefined> } = {}): void {
  let world: World | undefined;
  beforeEach(async () => {
    world = { aws: await startLocalAws(opts), t: await tempState(await opts.stateUrl?.()) };
    bind(world);
  });
  afterEach(async () => {
    await world?.t.close();
    await world?.aws.close();
    world = undefined;
  });
}
