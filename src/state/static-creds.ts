import { errorMessage, UserError } from '../errors.js';
import type { StaticRoleSpec } from '../model/types.js';
import { decryptSecret, encryptSecret, STATE_KEY_ENV, stateKeyFromEnv } from './crypto.js';
import type { StateStore } from './store.js';

/**
 * The keys of static roles (static-roles/NAME.json), as the state keeps them:
 * one setting per static role, its secrets encrypted under CREDOPS_STATE_KEY
 * as root keys are (DESIGN invariant 2). src/engine/static-role.ts makes and
 * deletes the keys in AWS; this module only stores and reads them.
 */

export const STATIC_CREDS_SETTING_KEY = (mount: string, name: string) => `static-creds/${mount}/${name}`;

/** The state's record of a static role's keys. Secrets are encryptSecret() blobs; the rest is never secret. */
export interface StoredStaticCreds {
  username: string;
  /** The key consumers hold now; absent until the first rotation is complete. */
  access_key_id?: string;
  secret_access_key?: string;
  /** ISO 8601: when the current key became current. */
  rotated_at?: string;
  /** Created and verified, published or being published; the current key is deleted once every sink holds it. */
  pending?: { access_key_id: string; secret_access_key: string; created_at: string };
  /** ISO 8601, set just before CreateAccessKey, with the user's keys at that moment: any other key the record does not hold is a leftover of the rotation. */
  rotation_started_at?: string;
  keys_before?: string[];
}

export interface StaticKey {
  accessKeyId: string;
  secretAccessKey: string;
}


export async function readStaticRecord(state: StateStore, mount: string, name: string): Promise<StoredStaticCreds | undefined> {
  const raw = await state.getSetting(STATIC_CREDS_SETTING_KEY(mount, name));
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as StoredStaticCreds;
  } catch {
    // Never echo the raw value: it holds encrypted secrets.
    throw new Error(`state setting ${STATIC_CREDS_SETTING_KEY(mount, name)} is not a static role record`);
  }
}

export async function writeStaticRecord(state: StateStore, spec: Pick<StaticRoleSpec, 'mount' | 'name'>, record: StoredStaticCreds): Promise<void> {
  await state.setSetting(STATIC_CREDS_SETTING_KEY(spec.mount, spec.name), JSON.stringify(record));
}

/** When the current key is due to be replaced (epoch ms); 0 when there is none yet or a rotation is unfinished. */
export function nextStaticRotation(spec: Pick<StaticRoleSpec, 'rotation_period'>, record: StoredStaticCreds | undefined): number {
  if (!record?.access_key_id || !record.rotated_at || record.pending || record.rotation_started_at) return 0;
  const rotatedAt = Date.parse(record.rotated_at);
  return Number.isNaN(rotatedAt) ? 0 : rotatedAt + spec.rotation_period * 1000;
}

/** Why the static role's key is replaced now, or undefined when it is not due. */
export function staticRotationDue(spec: StaticRoleSpec, record: StoredStaticCreds | undefined, now: number): string | undefined {
  if (!record?.access_key_id) return record?.pending || record?.rotation_started_at ? 'its first key is half made (interrupted run)' : 'new static role: credops makes its first key';
  if (record.username !== spec.username) return `username changed (${record.username} -> ${spec.username})`;
  if (record.pending || record.rotation_started_at) return 'a rotation was interrupted';
  const next = nextStaticRotation(spec, record);
  return now >= next ? 'rotation_period passed' : undefined;
}

/** The current key, decrypted, with its expiry (the next rotation); what `credops static-creds` prints. */
export async function currentStaticKey(deps: { state: StateStore; env: NodeJS.ProcessEnv }, spec: StaticRoleSpec): Promise<(StaticKey & { expiration: Date }) | undefined> {
  return staticKeyOf(deps.env, spec, await readStaticRecord(deps.state, spec.mount, spec.name));
}

/** The current key of a record already read, decrypted, with its expiry. */
export function staticKeyOf(env: NodeJS.ProcessEnv, spec: StaticRoleSpec, record: StoredStaticCreds | undefined): (StaticKey & { expiration: Date }) | undefined {
  if (!record?.access_key_id || !record.secret_access_key) return undefined;
  return {
    accessKeyId: record.access_key_id,
    secretAccessKey: decrypt(env, spec, record.secret_access_key),
    expiration: new Date(nextStaticRotation(spec, { ...record, pending: undefined, rotation_started_at: undefined })),
  };
}

/** Encrypts a new key's secret for the static role's record. */
export function sealStaticSecret(env: NodeJS.ProcessEnv, spec: Pick<StaticRoleSpec, 'mount' | 'name' | 'source'>, secret: string): string {
  return encryptSecret(secret, stateKey(env, spec), settingKey(spec));
}

/** The secret of a key in the record, decrypted. */
export function openStaticSecret(env: NodeJS.ProcessEnv, spec: Pick<StaticRoleSpec, 'mount' | 'name' | 'source'>, blob: string): string {
  return decrypt(env, spec, blob);
}

function settingKey(spec: Pick<StaticRoleSpec, 'mount' | 'name'>): string {
  return STATIC_CREDS_SETTING_KEY(spec.mount, spec.name);
}

function stateKey(env: NodeJS.ProcessEnv, spec: Pick<StaticRoleSpec, 'mount' | 'name' | 'source'>): Buffer {
  if (!env[STATE_KEY_ENV]?.trim()) {
    throw new UserError(
      `static role ${spec.mount}/${spec.name} (${spec.source}): ${STATE_KEY_ENV} is not set; a static role's key lives in the state, encrypted with it. ` +
        `Create one with \`openssl rand -base64 32\`, keep it in your CI secrets, and export ${STATE_KEY_ENV}`,
    );
  }
  return stateKeyFromEnv(env);
}

function decrypt(env: NodeJS.ProcessEnv, spec: Pick<StaticRoleSpec, 'mount' | 'name' | 'source'>, blob: string): string {
  try {
    return decryptSecret(blob, stateKey(env, spec), settingKey(spec));
  } catch (err) {
    throw new UserError(`static role ${spec.mount}/${spec.name}: its key cannot be read: ${errorMessage(err)}`, { cause: err });
  }
}
