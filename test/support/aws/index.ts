/**
 * A local AWS-compatible endpoint for tests: IAM and STS (Query/XML) and Secrets Manager
 * (JSON 1.1) on 127.0.0.1, reached by the real SDK clients through AWS_ENDPOINT_URL.
 *
 *   const aws = await startLocalAws();
 *   const iam = new IAMClient(localAwsClientConfig(aws));
 *   spawn('credops', [...], { env: childEnv(aws) });
 *   ...
 *   await aws.close();
 */
import type { LocalAwsClock } from './clock.js';
import { offsetClock } from './clock.js';
import { Faults, type FaultControls } from './faults.js';
import { iamInspection, secretsInspection, type IamInspection, type SecretsInspection } from './inspect.js';
import { LocalAwsServer, type CallRecord } from './server.js';
import { World } from './state.js';

export type { LocalAwsClock } from './clock.js';
export type { FaultControls, FaultSettings } from './faults.js';
export type { CallRecord } from './server.js';
export type {
  AccessKeyView,
  GroupView,
  IamInspection,
  PolicyView,
  RoleOptions,
  RoleView,
  SecretView,
  SecretsInspection,
  SessionView,
  UserView,
} from './inspect.js';

export const LOCAL_AWS_REGION = 'us-east-1';
export const DEFAULT_ACCOUNT_ID = '123456789012';
/** The IAM user whose key `root` is: what credops acts as. It exists in the account like any user. */
export const ROOT_USER_NAME = 'credops-root';
const ROOT_AGE_MS = 30 * 86_400_000;

export interface LocalAwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface LocalAws {
  url: string;
  accountId: string;
  region: string;
  root: { accessKeyId: string; secretAccessKey: string; userName: string };
  clock: LocalAwsClock;
  faults: FaultControls;
  /** Every request in arrival order, faults and refusals included. */
  calls: CallRecord[];
  resetCalls(): void;
  iam: IamInspection;
  secrets: SecretsInspection;
  close(): Promise<void>;
}

export async function startLocalAws(opts: { seed?: number; accountId?: string; enforcePolicies?: boolean } = {}): Promise<LocalAws> {
  const seed = opts.seed ?? 1;
  const accountId = opts.accountId ?? DEFAULT_ACCOUNT_ID;
  const clock = offsetClock();
  const world = new World(accountId, LOCAL_AWS_REGION, clock, seed);
  world.enforcePolicies = opts.enforcePolicies ?? false;
  const rootUser = world.addUser(ROOT_USER_NAME);
  rootUser.attachedPolicies.push('arn:aws:iam::aws:policy/AdministratorAccess');
  const rootKey = world.addAccessKey(rootUser);
  // Root's key existed long before the test, so no simulated propagation delay applies to it.
  rootUser.createDate = rootKey.createDate = clock.now() - ROOT_AGE_MS;
  const faults = new Faults(seed);
  const server = new LocalAwsServer(world, faults);
  const url = await server.listen();
  return {
    url,
    accountId,
    region: LOCAL_AWS_REGION,
    root: { accessKeyId: rootKey.accessKeyId, secretAccessKey: rootKey.secretAccessKey, userName: rootUser.name },
    clock,
    faults,
    calls: server.calls,
    resetCalls: () => {
      server.calls.length = 0;
    },
    iam: iamInspection(world),
    secrets: secretsInspection(world),
    close: () => server.close(),
  };
}

/**
 * The environment a child process needs to reach the endpoint with the SDK's default chain:
 * root's keys unless others are given. Shared config files are pointed at /dev/null so that a
 * developer's ~/.aws cannot leak into a test. Merge it over `childEnv`'s base, not raw process.env.
 */
export function localAwsEnv(aws: LocalAws, creds: LocalAwsCredentials = aws.root): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: aws.url,
    AWS_REGION: aws.region,
    AWS_DEFAULT_REGION: aws.region,
    AWS_ACCESS_KEY_ID: creds.accessKeyId,
    AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
    ...(creds.sessionToken !== undefined ? { AWS_SESSION_TOKEN: creds.sessionToken } : {}),
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  };
}

/** `base` (process.env by default) without any AWS_* variable, plus `localAwsEnv`. */
export function childEnv(aws: LocalAws, creds?: LocalAwsCredentials, base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const kept = Object.entries(base).filter((e): e is [string, string] => e[1] !== undefined && !e[0].startsWith('AWS_'));
  return { ...Object.fromEntries(kept), ...localAwsEnv(aws, creds) };
}

/** Options for an in-process SDK v3 client (`new IAMClient(localAwsClientConfig(aws))`). */
export function localAwsClientConfig(
  aws: LocalAws,
  creds: LocalAwsCredentials = aws.root,
): { endpoint: string; region: string; credentials: LocalAwsCredentials } {
  return { endpoint: aws.url, region: aws.region, credentials: { ...creds } };
}
