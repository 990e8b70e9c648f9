import { IAMClient } from '@aws-sdk/client-iam';
import { STSClient } from '@aws-sdk/client-sts';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@aws-sdk/types';
import type { MountConfig } from '../model/types.js';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { normalizeName } from '../schema/vault-template.js';
import { defaultChain, rootCredentialsProvider } from './credentials.js';

/** How long a mount's assumed role_arn session lasts; the SDK refreshes it before it ends. */
const ASSUMED_ROOT_SECONDS = 3600;

/**
 * The one place SDK clients are built (STYLE.md §6, Vault's client.go): lazily,
 * once per mount, from the mount's config and the SDK's own environment.
 */
export interface AwsClients {
  /** With `assume`: a client acting as that role, assumed with the mount's identity (a static role's assume_role_arn). */
  iam(mount: MountConfig, assume?: AssumeRole): IAMClient;
  /** With `credentials`: a client acting as that identity (e.g. a just-issued key), never cached. */
  sts(mount: MountConfig, credentials?: AwsCredentialIdentity): STSClient;
  secretsManager(opts: { region?: string; endpoint?: string }): SecretsManagerClient;
}

/** A role to act as, assumed with a mount's identity. */
export interface AssumeRole {
  roleArn: string;
  sessionName: string;
  externalId?: string;
}

export const DEFAULT_REGION = 'us-east-1';
/** AWS SDK default (3 retries = 4 attempts) unless the mount sets max_retries. */
export const DEFAULT_MAX_RETRIES = 3;
/**
 * Per attempt, unless the mount says otherwise. The SDK sets no limit of its
 * own: an endpoint that accepts the connection and never answers would hold
 * the command, and the state lock, forever. IAM and STS answer in well under a
 * second; 30 s leaves room for a slow proxy, and each attempt is retried.
 */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/**
 * TEST-ONLY crash hook. When this variable holds N, the process kills itself
 * with SIGKILL right after the N-th AWS call of the process has succeeded,
 * before credops can record anything about it. The crash test uses it to stop
 * an issuance after every call in turn and prove that recovery leaves no orphan.
 * Never set it outside tests.
 */
export const TEST_CRASH_AFTER_CALL_ENV = 'CREDOPS_TEST_CRASH_AFTER_CALL';

export interface AwsClientsOptions {
  /** The identity each mount acts as (its root credentials); default: the SDK's default chain. */
  rootCredentials?: (mount: string) => AwsCredentialIdentityProvider;
  env?: NodeJS.ProcessEnv;
}

/** How long before its expiration a shared session is renewed. */
const SESSION_REFRESH_MS = 5 * 60_000;

/**
 * One session for every client of a mount: each SDK client caches credentials
 * on its own, so without this the IAM and STS clients would each assume the
 * role. Renewed SESSION_REFRESH_MS before it expires; a failed renewal is not kept.
 */
function shared(provider: AwsCredentialIdentityProvider): AwsCredentialIdentityProvider {
  let current: Promise<AwsCredentialIdentity> | undefined;
  return async (options) => {
    const held = current && (await current.catch(() => undefined));
    if (held && (!held.expiration || held.expiration.getTime() - Date.now() > SESSION_REFRESH_MS)) return held;
    current = provider(options);
    current.catch(() => (current = undefined));
    return current;
  };
}

export function createAwsClients(opts: AwsClientsOptions = {}): AwsClients {
  const env = opts.env ?? process.env;
  const rootCredentials = opts.rootCredentials ?? (() => rootCredentialsProvider(async () => undefined, env));
  const crashAfter = testCrashAfterCall(env);
  const identities = new Map<string, AwsCredentialIdentityProvider>();
  /**
   * The identity a mount acts as: its root credentials, or, with role_arn, the
   * role assumed with them (refreshed by the SDK before it expires), one
   * provider per mount so that every client of the mount shares one session.
   */
  const assumed = (mount: MountConfig, base: AwsCredentialIdentityProvider, role: AssumeRole) =>
    shared(fromTemporaryCredentials({
      masterCredentials: base,
      params: {
        RoleArn: role.roleArn,
        RoleSessionName: role.sessionName,
        DurationSeconds: ASSUMED_ROOT_SECONDS,
        ...(role.externalId ? { ExternalId: role.externalId } : {}),
      },
      clientConfig: { region: mount.sts_region ?? regionFor(mount.region, env), endpoint: mount.sts_endpoint ?? endpointFromEnv('STS', env) },
    }));
  const identityOf = (mount: MountConfig, assume?: AssumeRole): AwsCredentialIdentityProvider => {
    const key = assume ? `${mount.name}\n${assume.roleArn}\n${assume.sessionName}\n${assume.externalId ?? ''}` : mount.name;
    let identity = identities.get(key);
    if (!identity) {
      if (assume) {
        identity = assumed(mount, identityOf(mount), assume);
      } else {
        const root = rootCredentials(mount.name);
        identity = mount.role_arn
          ? assumed(mount, root, {
              roleArn: mount.role_arn,
              sessionName: mount.session_name ?? `credops-${normalizeName(mount.name)}`.slice(0, 64),
              ...(mount.external_id ? { externalId: mount.external_id } : {}),
            })
          : root;
      }
      identities.set(key, identity);
    }
    return identity;
  };
  const iamClients = new Map<string, IAMClient>();
  const stsClients = new Map<string, STSClient>();
  const smClients = new Map<string, SecretsManagerClient>();

  const retryMode = retryModeFor(env);
  const common = (mount: MountConfig) => ({
    region: regionFor(mount.region, env),
    retryMode,
    // Vault's max_retries -1 means "the SDK's default".
    maxAttempts: (mount.max_retries === undefined || mount.max_retries < 0 ? DEFAULT_MAX_RETRIES : mount.max_retries) + 1,
    requestHandler: timeouts(mount),
  });

  return {
    iam(mount, assume) {
      const key = assume ? `${mount.name}\n${assume.roleArn}\n${assume.sessionName}\n${assume.externalId ?? ''}` : mount.name;
      let client = iamClients.get(key);
      if (!client) {
        client = new IAMClient({
          ...common(mount),
          credentials: identityOf(mount, assume),
          endpoint: mount.iam_endpoint ?? endpointFromEnv('IAM', env),
        });
        prepare(client, crashAfter);
        iamClients.set(key, client);
      }
      return client;
    },
    sts(mount, credentials) {
      const build = (creds: AwsCredentialIdentity | AwsCredentialIdentityProvider) => {
        const one = (endpoint: string | undefined, region: string | undefined) => {
          const client = new STSClient({ ...common(mount), ...(region ? { region } : {}), credentials: creds, ...(endpoint ? { endpoint } : {}) });
          prepare(client, crashAfter);
          return client;
        };
        const primary = one(mount.sts_endpoint ?? endpointFromEnv('STS', env), mount.sts_region);
        const fallbacks = (mount.sts_fallback_endpoints ?? []).map((endpoint, i) => one(endpoint, mount.sts_fallback_regions?.[i] ?? mount.sts_region));
        return fallbacks.length ? withFallbacks(primary, fallbacks) : primary;
      };
      if (credentials) return build(credentials);
      let client = stsClients.get(mount.name);
      if (!client) {
        client = build(identityOf(mount));
        stsClients.set(mount.name, client);
      }
      return client;
    },
    secretsManager({ region, endpoint }) {
      const key = `${region ?? ''}\n${endpoint ?? ''}`;
      let client = smClients.get(key);
      if (!client) {
        client = new SecretsManagerClient({
          region: regionFor(region, env),
          retryMode,
          maxAttempts: DEFAULT_MAX_RETRIES + 1,
          requestHandler: timeouts({}),
          credentials: defaultChain(env),
          endpoint: endpoint ?? endpointFromEnv('SECRETS_MANAGER', env),
        });
        prepare(client, crashAfter);
        smClients.set(key, client);
      }
      return client;
    },
  };
}

/** The SDK's HTTP handler options: a connection and an answer each have a deadline, per attempt. */
function timeouts(mount: Pick<MountConfig, 'connect_timeout' | 'request_timeout'>) {
  return {
    connectionTimeout: mount.connect_timeout !== undefined ? mount.connect_timeout * 1000 : DEFAULT_CONNECT_TIMEOUT_MS,
    requestTimeout: mount.request_timeout !== undefined ? mount.request_timeout * 1000 : DEFAULT_REQUEST_TIMEOUT_MS,
    // Without it the SDK only logs a warning when requestTimeout passes, and keeps waiting.
    throwOnRequestTimeout: true,
  };
}

/**
 * Adaptive: the SDK's exponential backoff with jitter, plus a client-side rate
 * limiter that slows all calls of a client down when AWS throttles, which is
 * what a bulk revocation against a throttling IAM needs. AWS_RETRY_MODE, the
 * SDK's own setting, can still choose "standard" (backoff without the limiter).
 */
export function retryModeFor(env: NodeJS.ProcessEnv): 'adaptive' | 'standard' {
  return env.AWS_RETRY_MODE === 'standard' ? 'standard' : 'adaptive';
}

export function regionFor(region: string | undefined, env: NodeJS.ProcessEnv): string {
  return region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? DEFAULT_REGION;
}

/**
 * The SDK reads AWS_ENDPOINT_URL(_SERVICE) from process.env by itself; reading
 * them here too makes an env passed in (tests, embedding) behave the same way.
 * Undefined leaves the SDK's own resolution (config files, real AWS) in charge.
 */
function endpointFromEnv(service: 'IAM' | 'STS' | 'SECRETS_MANAGER', env: NodeJS.ProcessEnv): string | undefined {
  if (env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS === 'true') return undefined;
  return env[`AWS_ENDPOINT_URL_${service}`] || env.AWS_ENDPOINT_URL || undefined;
}

type AnyClient = IAMClient | STSClient | SecretsManagerClient;

/**
 * Vault's sts_fallback_endpoints: a call the primary STS endpoint could not
 * answer (unreachable, timed out, a 5xx after the SDK's retries) is sent to
 * each fallback endpoint in turn, with its region. An answer, even an error
 * such as AccessDenied, is final.
 */
function withFallbacks(primary: STSClient, fallbacks: STSClient[]): STSClient {
  const send = primary.send.bind(primary) as (command: unknown) => Promise<unknown>;
  primary.send = (async (command: { input: unknown; constructor: new (input: unknown) => unknown }) => {
    try {
      return await send(command);
    } catch (first) {
      if (!unreachable(first)) throw first;
      for (const [i, fallback] of fallbacks.entries()) {
        try {
          // A command object carries what one client resolved into it: each endpoint gets its own.
          return await (fallback.send as (c: unknown) => Promise<unknown>)(new command.constructor(command.input));
        } catch (err) {
          if (!unreachable(err) || i === fallbacks.length - 1) throw err;
        }
      }
      throw first;
    }
  }) as unknown as typeof primary.send;
  const destroy = primary.destroy.bind(primary);
  primary.destroy = () => {
    destroy();
    for (const f of fallbacks) f.destroy();
  };
  return primary;
}

/** The endpoint gave no AWS answer: no connection, a timeout, or a server error. */
function unreachable(err: unknown): boolean {
  const e = err as { $metadata?: { httpStatusCode?: number }; code?: string; name?: string };
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined) return status >= 500;
  return true;
}

function prepare(client: AnyClient, crashAfter: number | undefined): void {
  failFastOnQuotaErrors(client);
  nameEndpointOnError(client);
  if (crashAfter !== undefined) installTestCrashHook(client, crashAfter);
}

/**
 * IAM answers a quota error (too many keys, users, policies: "LimitExceeded",
 * HTTP 409) with an error the SDK names LimitExceededException, which its retry
 * classifier takes for throttling. Retrying a quota only delays a certain
 * failure, so the caller gets AWS's message at once. Real throttling (HTTP 400
 * "Throttling", 429) and 5xx keep the SDK's adaptive retries.
 */
function failFastOnQuotaErrors(client: AnyClient): void {
  const config = client.config;
  const resolve = config.retryStrategy;
  type Strategy = Awaited<ReturnType<typeof resolve>>;
  let wrapped: Promise<Strategy> | undefined;
  config.retryStrategy = () =>
    (wrapped ??= resolve().then((strategy): Strategy => {
      if (!('refreshRetryTokenForRetry' in strategy)) return strategy;
      return {
        acquireInitialRetryToken: (scope) => strategy.acquireInitialRetryToken(scope),
        refreshRetryTokenForRetry: async (token, errorInfo) => {
          if (isIamQuotaError(errorInfo.error)) throw errorInfo.error;
          return strategy.refreshRetryTokenForRetry(token, errorInfo);
        },
        recordSuccess: (token) => strategy.recordSuccess(token),
      };
    }));
}

/**
 * A failed call's error carries the endpoint it went to (a symbol property the
 * engine reads in its error messages): with AWS_ENDPOINT_URL, a mount's
 * iam_endpoint or a proxy in between, "which server said that" is the question.
 */
export const ENDPOINT_OF_ERROR = Symbol.for('credops.endpoint');

function nameEndpointOnError(client: AnyClient): void {
  (client.middlewareStack as IAMClient['middlewareStack']).add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (err) {
        const req = args.request as { protocol?: string; hostname?: string; port?: number; path?: string } | undefined;
        if (err !== null && typeof err === 'object' && req?.hostname) {
          const where = `${req.protocol ?? 'https:'}//${req.hostname}${req.port ? `:${req.port}` : ''}${req.path && req.path !== '/' ? req.path : ''}`;
          Object.defineProperty(err, ENDPOINT_OF_ERROR, { value: where, enumerable: false, configurable: true });
        }
        throw err;
      }
    },
    { step: 'finalizeRequest', priority: 'low', name: 'credopsEndpointOnError' },
  );
}

function isIamQuotaError(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return e?.name === 'LimitExceededException' && e.$metadata?.httpStatusCode === 409;
}

function testCrashAfterCall(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env[TEST_CRASH_AFTER_CALL_ENV];
  if (!raw) return undefined;
  const n = Number(raw);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** Successful AWS calls made by this process, across all clients (test crash hook). */
let successfulCalls = 0;

function installTestCrashHook(client: AnyClient, crashAfter: number): void {
  // Initialize step: outermost, so a call the SDK retried counts once, when it
  // finally succeeds, and the kill lands before the result reaches credops.
  (client.middlewareStack as IAMClient['middlewareStack']).add(
    (next) => async (args) => {
      const result = await next(args);
      successfulCalls++;
      if (successfulCalls === crashAfter) process.kill(process.pid, 'SIGKILL');
      return result;
    },
    { step: 'initialize', priority: 'high', name: 'credopsTestCrashAfterCall' },
  );
}
