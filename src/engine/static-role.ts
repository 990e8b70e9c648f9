import { CreateAccessKeyCommand, DeleteAccessKeyCommand, ListAccessKeysCommand, type AccessKeyMetadata, type IAMClient } from '@aws-sdk/client-iam';
import type { AwsClients } from '../aws/clients.js';
import type { Clock } from '../clock.js';
import { UserError } from '../errors.js';
import { IAM_ACCESS_KEYS_PER_USER } from '../limits.js';
import type { MountConfig, StaticRoleSpec } from '../model/types.js';
import { normalizeName } from '../schema/vault-template.js';
import { openStaticSecret, readStaticRecord, sealStaticSecret, STATIC_CREDS_SETTING_KEY, writeStaticRecord, type StaticKey, type StoredStaticCreds } from '../state/static-creds.js';
import type { StateStore } from '../state/store.js';
import { awsCall, isNoSuchEntity, nothingCreated } from './aws-errors.js';
import { waitUntilAccepted } from './usable.js';

export interface StaticRoleDeps {
  state: StateStore;
  clients: AwsClients;
  clock: Clock;
  /** Where CREDOPS_STATE_KEY is read: the keys are stored encrypted. */
  env: NodeJS.ProcessEnv;
}

/**
 * Static roles (Vault's path_static_roles.go and rotation.go): an existing IAM
 * user whose access key credops replaces every rotation_period. The user is
 * never created or deleted; only the keys credops made are.
 *
 * A rotation never leaves a gap. IAM allows two keys per user, so the new key
 * is created while the old one still works, verified with STS, kept as
 * `pending` (encrypted) while the caller publishes it to the sinks, and only
 * then is the old key deleted (finishStaticRotation). A crash at any point is
 * finished by the next run: a pending key is published again, and a key
 * created after the record's `rotation_started_at` that the record does not
 * hold is deleted (DESIGN invariant 1).
 */

/**
 * Makes the next key of a static role, or returns the pending one an earlier
 * run made: created while the current key still works, accepted by STS, and
 * stored encrypted as `pending`. The caller publishes it, then calls
 * finishStaticRotation. `stored` is the record as the caller, holding the lock, just read it.
 */
export async function beginStaticRotation(
  deps: StaticRoleDeps,
  spec: StaticRoleSpec,
  mount: MountConfig,
  stored: StoredStaticCreds | undefined,
): Promise<StaticKey & { deletedForeign: string[] }> {
  let record = stored ? { ...stored } : { username: spec.username };
  if (record.username !== spec.username) {
    // A new user: the old user's key is credops's to delete, and nothing of it carries over.
    await forgetStaticRole(deps, { ...spec, username: record.username }, mount);
    record = { username: spec.username };
  }
  if (record.pending) {
    const pending = { accessKeyId: record.pending.access_key_id, secretAccessKey: openStaticSecret(deps.env, spec, record.pending.secret_access_key) };
    await verify(deps, spec, mount, pending);
    return { ...pending, deletedForeign: [] };
  }
  const iam = iamFor(deps.clients, spec, mount);
  const ctx = op(spec, 'ListAccessKeys');
  let keys: AccessKeyMetadata[];
  try {
    keys = (await awsCall(ctx, () => iam.send(new ListAccessKeysCommand({ UserName: spec.username })))).AccessKeyMetadata ?? [];
  } catch (err) {
    if (isNoSuchEntity(err)) throw new UserError(`static role ${spec.mount}/${spec.name} (${spec.source}): IAM user "${spec.username}" does not exist; credops manages the keys of an existing user and never creates one`, { cause: err });
    throw err;
  }
  if (record.rotation_started_at) {
    keys = await deleteLeftovers(iam, spec, record, keys);
    delete record.rotation_started_at;
    delete record.keys_before;
  }
  // A key credops does not hold takes a slot the new key needs. As Vault does, it is deleted, but only once credops's
  // own key has been delivered for a full period: a first rotation never deletes a key it did not make.
  const foreign = keys.filter((k) => k.AccessKeyId !== record.access_key_id);
  const deletedForeign: string[] = [];
  if (keys.length >= IAM_ACCESS_KEYS_PER_USER) {
    if (!record.access_key_id) {
      throw new UserError(
        `static role ${spec.mount}/${spec.name}: IAM user "${spec.username}" already has ${keys.length} access keys (${keys.map((k) => k.AccessKeyId).join(', ')}), ` +
          `IAM's limit per user. credops creates its key before any old key goes, so it needs a free slot: delete the key nobody uses ` +
          `(aws iam delete-access-key --user-name ${spec.username} --access-key-id ID) and run credops reconcile again`,
      );
    }
    for (const k of foreign) {
      await deleteKey(iam, spec, k.AccessKeyId!, 'DeleteAccessKey (a key credops did not make, to free a slot)');
      deletedForeign.push(k.AccessKeyId!);
    }
  }

  record.rotation_started_at = new Date(deps.clock.now()).toISOString();
  record.keys_before = keys.filter((k) => !deletedForeign.includes(k.AccessKeyId!)).map((k) => k.AccessKeyId!);
  await writeStaticRecord(deps.state, spec, record);
  let created: StaticKey;
  try {
    const res = await awsCall(op(spec, 'CreateAccessKey'), () => iam.send(new CreateAccessKeyCommand({ UserName: spec.username })));
    if (!res.AccessKey?.AccessKeyId || !res.AccessKey.SecretAccessKey) throw new Error('CreateAccessKey returned no access key');
    created = { accessKeyId: res.AccessKey.AccessKeyId, secretAccessKey: res.AccessKey.SecretAccessKey };
  } catch (err) {
    // Refused outright: nothing was made. Otherwise the marker stays, and the next run deletes what AWS made all the same.
    if (nothingCreated(err)) {
      delete record.rotation_started_at;
      delete record.keys_before;
      await writeStaticRecord(deps.state, spec, record);
    }
    throw err;
  }
  record.pending = { access_key_id: created.accessKeyId, secret_access_key: sealStaticSecret(deps.env, spec, created.secretAccessKey), created_at: new Date(deps.clock.now()).toISOString() };
  delete record.rotation_started_at;
  delete record.keys_before;
  await writeStaticRecord(deps.state, spec, record);
  await verify(deps, spec, mount, created);
  return { ...created, deletedForeign };
}

/** IAM is eventually consistent: no sink is handed a key STS still refuses. */
async function verify(deps: StaticRoleDeps, spec: StaticRoleSpec, mount: MountConfig, key: StaticKey): Promise<void> {
  await waitUntilAccepted(deps.clients.sts(mount, key), deps.clock, { what: `the new key ${key.accessKeyId} of IAM user ${spec.username}`, context: op(spec, 'GetCallerIdentity with the new key') });
}

/** Every sink holds the pending key: it becomes current and the old key is deleted. */
export async function finishStaticRotation(deps: StaticRoleDeps, spec: StaticRoleSpec, mount: MountConfig): Promise<{ accessKeyId: string; oldAccessKeyId?: string }> {
  const record = await readStaticRecord(deps.state, spec.mount, spec.name);
  if (!record?.pending) throw new Error(`bug: static role ${spec.mount}/${spec.name} has no pending key to finish`);
  const old = record.access_key_id;
  if (old) await deleteKey(iamFor(deps.clients, spec, mount), spec, old, 'DeleteAccessKey (the replaced key)');
  const next: StoredStaticCreds = {
    username: record.username,
    access_key_id: record.pending.access_key_id,
    secret_access_key: record.pending.secret_access_key,
    rotated_at: new Date(deps.clock.now()).toISOString(),
  };
  await writeStaticRecord(deps.state, spec, next);
  return { accessKeyId: next.access_key_id!, ...(old ? { oldAccessKeyId: old } : {}) };
}

/**
 * A static role removed from git: as Vault's delete does, the keys credops
 * made are deleted and the record forgotten. The IAM user and any key credops
 * did not make are left alone.
 */
export async function forgetStaticRole(deps: StaticRoleDeps, spec: StaticRoleSpec, mount: MountConfig): Promise<string[]> {
  const record = await readStaticRecord(deps.state, spec.mount, spec.name);
  if (!record) return [];
  const iam = iamFor(deps.clients, spec, mount);
  const deleted: string[] = [];
  const ours = [record.access_key_id, record.pending?.access_key_id].filter((id): id is string => id !== undefined);
  if (record.rotation_started_at) {
    const keys = (await awsCall(op(spec, 'ListAccessKeys'), () => iam.send(new ListAccessKeysCommand({ UserName: record.username })))).AccessKeyMetadata ?? [];
    ours.push(...keys.filter((k) => !(record.keys_before ?? []).includes(k.AccessKeyId!) && !ours.includes(k.AccessKeyId!)).map((k) => k.AccessKeyId!));
  }
  for (const id of ours) {
    await deleteKey(iam, { ...spec, username: record.username }, id, 'DeleteAccessKey (static role removed)');
    deleted.push(id);
  }
  await deps.state.deleteSetting(STATIC_CREDS_SETTING_KEY(spec.mount, spec.name));
  return deleted;
}

/** The keys left after deleting those an interrupted rotation made: the user's keys it had not seen, and not in the record. */
async function deleteLeftovers(iam: IAMClient, spec: StaticRoleSpec, record: StoredStaticCreds, keys: AccessKeyMetadata[]): Promise<AccessKeyMetadata[]> {
  const kept: AccessKeyMetadata[] = [];
  for (const k of keys) {
    const leftover = k.AccessKeyId !== record.access_key_id && !(record.keys_before ?? []).includes(k.AccessKeyId!);
    if (leftover) await deleteKey(iam, spec, k.AccessKeyId!, 'DeleteAccessKey (left by an interrupted rotation)');
    else kept.push(k);
  }
  return kept;
}

async function deleteKey(iam: IAMClient, spec: Pick<StaticRoleSpec, 'mount' | 'name' | 'username'>, accessKeyId: string, what: string): Promise<void> {
  try {
    await awsCall(op(spec, what), () => iam.send(new DeleteAccessKeyCommand({ UserName: spec.username, AccessKeyId: accessKeyId })));
  } catch (err) {
    if (!isNoSuchEntity(err)) throw err;
  }
}

/** The IAM client acting in the user's account: the mount's identity, or the role assume_role_arn names. */
function iamFor(clients: AwsClients, spec: Pick<StaticRoleSpec, 'name' | 'assume_role_arn' | 'assume_role_session_name' | 'external_id'>, mount: MountConfig): IAMClient {
  if (!spec.assume_role_arn) return clients.iam(mount);
  return clients.iam(mount, {
    roleArn: spec.assume_role_arn,
    sessionName: spec.assume_role_session_name ?? `credops-static-${normalizeName(spec.name)}`.slice(0, 64),
    ...(spec.external_id ? { externalId: spec.external_id } : {}),
  });
}




function op(spec: Pick<StaticRoleSpec, 'mount' | 'name'>, operation: string) {
  return { mount: spec.mount, operation: `${spec.mount}/static-roles/${spec.name} ${operation}` };
}
