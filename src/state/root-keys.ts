import { errorMessage, UserError } from '../errors.js';
import { decryptSecret, encryptSecret, stateKeyFromEnv } from './crypto.js';
import type { StateStore } from './store.js';

/**
 * Root keys stored by `credops config root` (Vault's aws/config/root): the
 * static keys of the AWS identity credops acts as, kept in the state with the
 * secret encrypted. Without them a mount acts as the AWS SDK's default chain
 * (src/aws/credentials.ts). Root keys never live in git.
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
      `the root keys stored for mount "${mount}" (access key ${stored.access_key_id}) cannot be used: ${errorMessage(err)}. ` +
        `Set the CREDOPS_STATE_KEY they were stored with, or store them again with \`credops config root --mount ${mount} --access-key ID\``,
      { cause: err },
    );
  }
  return { accessKeyId: stored.access_key_id, secretAccessKey, ...(stored.user_name ? { userName: stored.user_name } : {}) };
}

/**
 * Reads a mount's stored root keys on every call, decrypting only when the
 * stored record changed: `config rotate-root` (in this process or in another
 * one, such as a long-running `watch`) replaces the record, and each AWS request
 * must be signed with the key the state holds at that moment.
 */
export function storedRootKeysReader(state: StateStore, mount: string, env: NodeJS.ProcessEnv): () => Promise<RootKeys | undefined> {
  let decrypted: { raw: string; keys: RootKeys } | undefined;
  return async () => {
    const raw = await state.getSetting(ROOT_SETTING_KEY(mount));
    if (raw === undefined) return undefined;
    if (decrypted?.raw !== raw) decrypted = { raw, keys: decryptStoredRootKeys(parseStored(raw, mount), mount, env) };
    return decrypted.keys;
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
