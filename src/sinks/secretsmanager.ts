import type { DescribeSecretResponse, SecretsManagerClient, Tag } from '@aws-sdk/client-secrets-manager';
import { SM_RECOVERY_WINDOW_DEFAULT_DAYS, SM_RECOVERY_WINDOW_MAX_DAYS, SM_RECOVERY_WINDOW_MIN_DAYS } from '../limits.js';
import { AwsUserError, UserError } from '../errors.js';
import type { SinkSpec } from '../model/types.js';
import { foreignOwner, ownedByAnotherState, type PublishedCredential, type Sink, type SinkContext } from './sink.js';

/** The `secretsmanager:` block of a sink file. */
export interface SecretsManagerSinkConfig {
  name: string;
  /** Default: the mount's region, else the SDK's own configuration. */
  region?: string;
  endpoint?: string;
  kms_key_id?: string;
  /** 0 deletes at once (ForceDeleteWithoutRecovery); else 7..30 days. */
  recovery_window_days?: number;
}

/** The SDK is loaded when a secret is first touched: describing the sink (plan, status) needs none of it. */
const smSdk = () => import('@aws-sdk/client-secrets-manager');

export const MANAGED_TAG = 'credops:managed';
export const SINK_TAG = 'credops:sink';
export const MOUNT_TAG = 'credops:mount';
export const ROLE_TAG = 'credops:role';
export const LEASE_TAG = 'credops:lease';
/** The id of the credops state that published the secret (StateStore.id): its owner. */
export const STATE_TAG = 'credops:state';

/**
 * The secret's value: the credential as JSON, with the field names of the
 * AWS credential_process format so consumers can hand it to an SDK as is.
 */
export function secretValue(cred: PublishedCredential): string {
  return JSON.stringify({
    AccessKeyId: cred.accessKeyId,
    SecretAccessKey: cred.secretAccessKey,
    ...(cred.sessionToken ? { SessionToken: cred.sessionToken } : {}),
    Expiration: cred.expiration.toISOString(),
    lease_id: cred.leaseId,
  });
}

export function secretsManagerSink(spec: SinkSpec, ctx: SinkContext): Sink {
  const config = spec.config as unknown as SecretsManagerSinkConfig;
  const region = config.region ?? ctx.mounts?.[spec.mount]?.region;
  const target = ['secretsmanager', region, config.endpoint, config.name].filter(Boolean).join(' ');
  const window = recoveryWindow(spec, config);
  let client: SecretsManagerClient | undefined;
  const sm = () => {
    if (!ctx.clients) throw new Error(`bug: sink "${spec.name}" used without AWS clients`);
    return (client ??= ctx.clients.secretsManager({ region, endpoint: config.endpoint }));
  };

  // Every AWS error is re-thrown naming the target and the call; the SDK's
  // messages never echo the request body, so the secret cannot leak this way.
  async function call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toUserError(err, `${target} ${operation}`);
    }
  }

  async function describeSecret(): Promise<DescribeSecretResponse | undefined> {
    try {
      return await sm().send(new (await smSdk()).DescribeSecretCommand({ SecretId: config.name }));
    } catch (err) {
      if (errorName(err) === 'ResourceNotFoundException') return undefined;
      throw toUserError(err, `${target} DescribeSecret`);
    }
  }

  function isOurs(secret: DescribeSecretResponse): boolean {
    const tags = tagMap(secret.Tags);
    return tags[MANAGED_TAG] === 'true' && (tags[SINK_TAG] === undefined || tags[SINK_TAG] === spec.name);
  }

  /** credops only ever writes to a secret it created for this very sink, from this state (or adopts it on purpose). */
  function assertOurs(secret: DescribeSecretResponse): void {
    const tags = tagMap(secret.Tags);
    if (foreignOwner(spec, ctx, tags[STATE_TAG])) throw ownedByAnotherState(spec, `the secret ${config.name}`, tags[STATE_TAG]!);
    if (tags[MANAGED_TAG] !== 'true') {
      throw new UserError(
        `sink "${spec.name}" (${spec.source}): the secret ${config.name} exists and was not created by credops ` +
          `(no ${MANAGED_TAG} tag); refusing to overwrite it. Choose another name, or delete the secret first.`,
      );
    }
    if (tags[SINK_TAG] !== undefined && tags[SINK_TAG] !== spec.name) {
      throw new UserError(
        `sink "${spec.name}" (${spec.source}): the secret ${config.name} belongs to credops sink "${tags[SINK_TAG]}"; ` +
          'two sinks cannot share one secret.',
      );
    }
  }

  const leaseTags = (cred: PublishedCredential): Tag[] => [
    { Key: MOUNT_TAG, Value: spec.mount },
    { Key: ROLE_TAG, Value: spec.role },
    { Key: LEASE_TAG, Value: cred.leaseId },
    ...(ctx.stateId ? [{ Key: STATE_TAG, Value: ctx.stateId }] : []),
  ];

  return {
    describe: () => target,

    async owner() {
      const existing = await describeSecret();
      if (!existing || existing.DeletedDate) return undefined;
      const tags = tagMap(existing.Tags);
      return { ...(tags[STATE_TAG] ? { stateId: tags[STATE_TAG] } : {}), ...(tags[LEASE_TAG] ? { leaseId: tags[LEASE_TAG] } : {}) };
    },

    async publish(cred) {
      let existing = await describeSecret();
      if (!existing) {
        try {
          await sm().send(
            new (await smSdk()).CreateSecretCommand({
              Name: config.name,
              Description: `AWS credentials of ${spec.mount}/roles/${spec.role}, published by credops (sink ${spec.name}); rotated automatically`,
              SecretString: secretValue(cred),
              KmsKeyId: config.kms_key_id,
              Tags: [{ Key: MANAGED_TAG, Value: 'true' }, { Key: SINK_TAG, Value: spec.name }, ...leaseTags(cred)],
            }),
          );
          return;
        } catch (err) {
          // Created by someone else between our describe and create: treat it as existing.
          if (errorName(err) !== 'ResourceExistsException') throw toUserError(err, `${target} CreateSecret`);
          existing = await describeSecret();
          if (!existing) throw toUserError(err, `${target} CreateSecret`);
        }
      }
      assertOurs(existing);
      // A removed-then-re-added sink finds its secret scheduled for deletion; AWS
      // refuses writes to it until it is restored.
      if (existing.DeletedDate) await call('RestoreSecret', async () => sm().send(new (await smSdk()).RestoreSecretCommand({ SecretId: config.name })));
      await call('PutSecretValue', async () => sm().send(new (await smSdk()).PutSecretValueCommand({ SecretId: config.name, SecretString: secretValue(cred) })));
      await call('TagResource', async () => sm().send(new (await smSdk()).TagResourceCommand({ SecretId: config.name, Tags: leaseTags(cred) })));
    },

    async refresh(update) {
      const existing = await describeSecret();
      if (!existing || existing.DeletedDate) {
        throw new UserError(`sink "${spec.name}" (${spec.source}): the secret ${config.name} is gone; cannot move its expiry to the renewed lease's`);
      }
      assertOurs(existing);
      const current = await call('GetSecretValue', async () => sm().send(new (await smSdk()).GetSecretValueCommand({ SecretId: config.name })));
      // The value holds the secret key: it stays in this scope, and no error below quotes it.
      const value = parseObject(current.SecretString);
      if (value?.lease_id !== update.leaseId) {
        throw new UserError(
          `sink "${spec.name}" (${spec.source}): the secret ${config.name} does not hold lease ${update.leaseId} as credops published it; ` +
            'refusing to change its expiry',
        );
      }
      const expiration = update.expiration.toISOString();
      if (value.Expiration === expiration) return 'not-needed';
      value.Expiration = expiration;
      await call('PutSecretValue', async () => sm().send(new (await smSdk()).PutSecretValueCommand({ SecretId: config.name, SecretString: JSON.stringify(value) })));
      return 'refreshed';
    },

    async remove() {
      const existing = await describeSecret();
      // Not ours (any more): someone replaced it; what credops published is gone already.
      if (!existing || existing.DeletedDate || !isOurs(existing)) return;
      await call('DeleteSecret', async () =>
        sm().send(
          new (await smSdk()).DeleteSecretCommand(
            window === 0 ? { SecretId: config.name, ForceDeleteWithoutRecovery: true } : { SecretId: config.name, RecoveryWindowInDays: window },
          ),
        ),
      );
    },
  };
}

function recoveryWindow(spec: SinkSpec, config: SecretsManagerSinkConfig): number {
  const days = config.recovery_window_days ?? SM_RECOVERY_WINDOW_DEFAULT_DAYS;
  if (days !== 0 && (days < SM_RECOVERY_WINDOW_MIN_DAYS || days > SM_RECOVERY_WINDOW_MAX_DAYS)) {
    throw new UserError(
      `sink "${spec.name}" (${spec.source}): recovery_window_days must be 0 (delete at once) or ` +
        `${SM_RECOVERY_WINDOW_MIN_DAYS}..${SM_RECOVERY_WINDOW_MAX_DAYS}, found ${days}`,
    );
  }
  return days;
}

/** A JSON object, or undefined; never a parse error, whose message would quote the text. */
function parseObject(text: string | undefined): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text ?? '');
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function tagMap(tags: Tag[] | undefined): Record<string, string> {
  return Object.fromEntries((tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
}

function errorName(err: unknown): string | undefined {
  return err instanceof Error ? err.name : undefined;
}

/**
 * An error AWS answered is the user's to fix (permissions, KMS key, region), and
 * so is an endpoint that cannot be reached; anything else is passed on.
 */
function toUserError(err: unknown, operation: string): Error {
  if (!(err instanceof Error)) return new Error(String(err));
  if ('$metadata' in err) return new AwsUserError(err.name, err.message, { operation }, { cause: err });
  const code = (err as NodeJS.ErrnoException).code;
  if (typeof code === 'string') return new UserError(`${operation}: ${code}: ${err.message}`, { cause: err });
  return err;
}
