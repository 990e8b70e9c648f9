/**
 * A sink world for the lifecycle stories: the local AWS endpoint, a temp
 * state, the engine, and reconcile() run in-process, all on the endpoint's
 * clock so that a test moves time for credops and AWS at once.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import type { AwsClients } from '../../src/aws/clients.js';
import type { Engine } from '../../src/engine/index.js';
import type { DesiredModel, MountConfig, RoleSpec, SinkSpec } from '../../src/model/types.js';
import { reconcile, type ReconcileEvent, type ReconcileResult } from '../../src/reconcile/index.js';
import { main } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/runtime.js';
import { localAwsEnv, type CallRecord, type LocalAws } from '../support/aws/index.js';
import { engineFor, mount, role, S3_READ, startLocalAws, tempState, type TempState } from '../integration/helpers.js';

export const MINUTE_MS = 60_000;

export interface SinkWorld {
  aws: LocalAws;
  t: TempState;
  engine: Engine;
  clients: AwsClients;
  /** Working directory (and ~) of file sinks. */
  dir: string;
  events: ReconcileEvent[];
  reconcile(desired: DesiredModel): Promise<ReconcileResult>;
  /** AWS calls that change something, since the last resetCalls(). */
  writes(): CallRecord[];
  close(): Promise<void>;
}

export async function sinkWorld(): Promise<SinkWorld> {
  const aws = await startLocalAws();
  const t = await tempState();
  const { engine, clients } = engineFor(aws, t, { clock: aws.clock });
  const dir = mkdtempSync(join(tmpdir(), 'credops-sinks-'));
  const events: ReconcileEvent[] = [];
  return {
    aws,
    t,
    engine,
    clients,
    dir,
    events,
    reconcile: (desired) => reconcile({ state: t.state, engine, clients, sinks: { clients, cwd: dir, home: dir }, clock: aws.clock, log: (e) => events.push(e) }, desired),
    writes: () => aws.calls.filter((c) => !/^(Get|List|Describe)/.test(c.action)),
    close: async () => {
      await aws.close();
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The `deploy` iam_user role with a short lease, so that rotation is minutes away. */
export function deployRole(overrides: Partial<RoleSpec> = {}): RoleSpec {
  return role('deploy', { credential_types: ['iam_user'], policy_document: S3_READ, ...overrides });
}

export const HOUR_MOUNT: MountConfig = mount({ lease: 3600, lease_max: 3600 });

export function sink(name: string, type: string, config: Record<string, unknown>, overrides: Partial<SinkSpec> = {}): SinkSpec {
  return {
    name,
    source: `sinks/${name}.yaml`,
    mount: 'aws',
    role: 'deploy',
    type,
    config,
    ttl: 3600,
    grace: 300,
    deletion_policy: 'delete',
    verify: true,
    ...overrides,
  };
}

export function model(commit: string, sinks: SinkSpec[], opts: { roles?: RoleSpec[]; mounts?: MountConfig[] } = {}): DesiredModel {
  const mounts = opts.mounts ?? [HOUR_MOUNT];
  return {
    repo: '/repo',
    commit,
    config: { mounts: Object.fromEntries(mounts.map((m) => [m.name, m])) },
    roles: opts.roles ?? [deployRole()],
    sinks,
  };
}

export interface SecretCredential {
  AccessKeyId: string;
  SecretAccessKey: string;
  SessionToken?: string;
  Expiration: string;
  lease_id: string;
}

/** What a consumer reads from the secret now. */
export function secretCredential(aws: LocalAws, name: string): SecretCredential {
  const value = aws.secrets.get(name)?.value;
  if (value === undefined) throw new Error(`secret ${name} has no current value`);
  return JSON.parse(value) as SecretCredential;
}

export const asCred = (c: SecretCredential) => ({ accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}) });

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `credops ARGS` in-process through main(), against the endpoint and the world's state, in `cwd` (default the world's dir). */
export async function cli(w: SinkWorld, args: string[], opts: { cwd?: string; isTTY?: boolean } = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    readStdin: async () => '',
    isTTY: opts.isTTY ?? false,
    env: { ...localAwsEnv(w.aws), CREDOPS_STATE: w.t.url, CREDOPS_AUDIT_LOG: w.t.auditPath, NO_COLOR: '1', HOME: w.dir },
    cwd: opts.cwd ?? w.dir,
  };
  const code = await main(['node', 'credops', ...args], io);
  return { code, stdout, stderr };
}

/** A copy of test/fixtures/repos/NAME in the world's dir, to edit as a user edits their repo. */
export function fixtureRepo(w: SinkWorld, name: string): string {
  const to = join(w.dir, 'repo');
  cpSync(join(import.meta.dirname, '../fixtures/repos', name), to, { recursive: true });
  return to;
}

/** A fresh SinkWorld for each test of the file, closed after it; `bind` hands it to the file's variable. */
export function eachSinkWorld(bind: (w: SinkWorld) => void): void {
  let world: SinkWorld | undefined;
  beforeEach(async () => {
    world = await sinkWorld();
    bind(world);
  });
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });
}
