import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@aws-sdk/types';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { UserError } from '../errors.js';
import { decryptSecret, encryptSecret, stateKeyFromEnv } from '../state/crypto.js';
import type { StateStore } from '../state/store.js';

/**
 * The root identity of a mount: the AWS identity credops acts as (Vault's
 * aws/config/root). Keys stored by `credops config root` when there are any,
 * else the AWS SDK's default chain (environment, web identity / CI OIDC, SSO,
 * shared config, container and instance profiles). Root keys never live in git.
 */

export const ROOT_SETTING_KEY = (mount: string) => `root/${mount}`;

/** The settings value under ROOT_SETTING_KEY. Only the secret is encrypted; the rest is what `config root` shows. */
export interface StoredRootKeys {
  access_key_id: string;
  /** encryptSecret() blob: AES-256-GCM under CREDOPS_STATE_KEY. */
  secret_access_key: string;
  /** The IAM user the key belongs to, once known (rotate-root asks GetUser). */
  user_name?: string;
  /** ISO 8601. */
  stored_at: string;
}

export interface RootKeys {
  accessKeyId: string;
  secretAccessKey: string;
  userName?: string;
}

export async function readStoredRootKeys(state: StateStore, mount: string): Promise<StoredRootKeys | undefined> {
  const raw = await state.getSetting(ROOT_SETTING_KEY(mount));
  return raw === undefined ? undefined : parseStored(raw, mount);
}

/** Encrypts the secret and stores the keys as the mount's root identity, replacing any before. */
export async function writeStoredRootKeys(state: StateStore, mount: string, keys: RootKeys, env: NodeJS.ProcessEnv, now: Date): Promise<StoredRootKeys> {
  const stored: StoredRootKeys = {
    access_key_id: keys.accessKeyId,
    secret_access_key: encryptSecret(keys.secretAccessKey, stateKeyFromEnv(env), ROOT_SETTING_KEY(mount)),
    ...(keys.userName ? { user_name: keys.userName } : {}),
    stored_at: now.toISOString(),
  };
  await state.setSetting(ROOT_SETTING_KEY(mount), JSON.stringify(stored));
  return stored;
}

/** Decrypts stored keys; a missing or wrong CREDOPS_STATE_KEY is the caller's to fix. */
export function decryptStoredRootKeys(stored: StoredRootKeys, mount: string, env: NodeJS.ProcessEnv): RootKeys {
  if (!env.CREDOPS_STATE_KEY?.trim()) {
    throw new UserError(
      `mount "${mount}" has root keys stored by \`credops config root\` (access key ${stored.access_key_id}), ` +
        'but CREDOPS_STATE_KEY, the key they are encrypted with, is not set',
    );
  }
  const key = stateKeyFromEnv(env);
  let secretAccessKey: string;
  try {
    // The setting's name is authenticated with the blob: a blob copied onto another mount does not decrypt.
    secretAccessKey = decryptSecret(stored.secret_access_key, key, ROOT_SETTING_KEY(mount));
  } catch (err) {
    throw new UserError(
      `the root keys stored for mount "${mount}" (access key ${stored.access_key_id}) cannot be used: ${messageOf(err)}. ` +
        `Set the CREDOPS_STATE_KEY they were stored with, or store them again with \`credops config root --mount ${mount} --access-key ID\``,
      { cause: err },
    );
  }
  return { accessKeyId: stored.access_key_id, secretAccessKey, ...(stored.user_name ? { userName: stored.user_name } : {}) };
}

/**
 * The SDK credential provider for a mount's root identity. `env` is where the
 * environment link of the default chain and CREDOPS_STATE_KEY are read.
 */
export function rootCredentialsProvider(state: StateStore, mount: string, env: NodeJS.ProcessEnv = process.env): AwsCredentialIdentityProvider {
  let chain: ReturnType<typeof fromNodeProviderChain> | undefined;
  let decrypted: { raw: string; identity: AwsCredentialIdentity } | undefined;
  return async (options) => {
    const raw = await state.getSetting(ROOT_SETTING_KEY(mount));
    if (raw !== undefined) {
      if (decrypted?.raw !== raw) {
        const keys = decryptStoredRootKeys(parseStored(raw, mount), mount, env);
        decrypted = { raw, identity: { accessKeyId: keys.accessKeyId, secretAccessKey: keys.secretAccessKey } };
      }
      // `config rotate-root` (in this process or in another one, such as a
      // long-running `watch`) deletes the replaced key right after storing the
      // new one. Static keys would be cached by the SDK for the client's life;
      // an expiration of "now" makes it ask this provider before each request,
      // so every request is signed with the key the state holds at that moment.
      // One settings read per AWS call is cheap next to the call itself.
      return { ...decrypted.identity, expiration: new Date() };
    }
    const fromEnv = environmentCredentials(env);
    if (fromEnv) return fromEnv;
    chain ??= fromNodeProviderChain(env.AWS_PROFILE ? { profile: env.AWS_PROFILE } : {});
    return chain(options);
  };
}

/**
 * The first link of the default chain, read from `env` rather than
 * process.env so that a command run with its own environment (tests, the
 * programmatic API) gets the identity it was given. Same variables as the SDK's fromEnv.
 */
function environmentCredentials(env: NodeJS.ProcessEnv): AwsCredentialIdentity | undefined {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) return undefined;
  const expiration = env.AWS_CREDENTIAL_EXPIRATION ? new Date(env.AWS_CREDENTIAL_EXPIRATION) : undefined;
  return {
    accessKeyId,
    secretAccessKey,
    ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
    ...(expiration && !Number.isNaN(expiration.getTime()) ? { expiration } : {}),
  };
}

function parseStored(raw: string, mount: string): StoredRootKeys {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    value = undefined;
  }
  const v = value as Partial<StoredRootKeys> | undefined;
  if (!v || typeof v.access_key_id !== 'string' || typeof v.secret_access_key !== 'string') {
    // Never echo the raw value: it holds the encrypted secret.
    throw new Error(`state setting ${ROOT_SETTING_KEY(mount)} is not a stored root key record`);
  }
  return {
    access_key_id: v.access_key_id,
    secret_access_key: v.secret_access_key,
    ...(typeof v.user_name === 'string' ? { user_name: v.user_name } : {}),
    stored_at: typeof v.stored_at === 'string' ? v.stored_at : '',
  };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
