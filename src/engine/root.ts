import { CreateAccessKeyCommand, DeleteAccessKeyCommand, GetUserCommand, ListAccessKeysCommand, type IAMClient } from '@aws-sdk/client-iam';
import { CronExpressionParser } from 'cron-parser';
import { IAM_ACCESS_KEY_ID_MAX, IAM_ACCESS_KEY_ID_MIN, IAM_ACCESS_KEYS_PER_USER, SIGV4_CLOCK_SKEW_MS } from '../limits.js';
import {
  decryptStoredRootKeys,
  readStoredRootKeys,
  ROOT_SETTING_KEY,
  writeStoredRootKeys,
  type RootKeys,
  storedRootKeysReader,
  type StoredRootKeys,
} from '../state/root-keys.js';
import { createAwsClients, type AwsClients } from '../aws/clients.js';
import { rootCredentialsProvider } from '../aws/credentials.js';
import { errorMessage, UserError } from '../errors.js';
import type { MountConfig } from '../model/types.js';
import type { StateStore } from '../state/store.js';
import { awsCall, isAwsError, isNoSuchEntity, nothingCreated } from './aws-errors.js';
import { mountConfig, type EngineDeps } from './deps.js';
import { waitUntilAccepted } from './usable.js';

/**
 * The root identity of a mount (Vault's path_config_root.go and
 * path_config_rotate_root.go): storing static keys, showing where the identity
 * comes from, and rotating stored keys to a key only credops knows.
 */

export interface RootDeps extends EngineDeps {
  /** Where CREDOPS_STATE_KEY is read. */
  env: NodeJS.ProcessEnv;
}

/** Each mount's root identity: its keys stored in the state, else the SDK's default chain. */
export function rootCredentials(state: StateStore, env: NodeJS.ProcessEnv) {
  return (mount: string) => rootCredentialsProvider(storedRootKeysReader(state, mount, env), env);
}

/** The AWS clients of a run, acting as each mount's root identity. */
export function awsClientsFor(state: StateStore, env: NodeJS.ProcessEnv): AwsClients {
  return createAwsClients({ rootCredentials: rootCredentials(state, env), env });
}

/** Where a mount's identity comes from, for `credops config root` without --access-key. Never a secret. */
export interface RootDescription {
  mount: string;
  source: string;
  accessKeyId?: string;
  userName?: string;
  storedAt?: string;
  /** Set when a rotate-root was interrupted; the next rotate-root cleans up after it. */
  interruptedRotation?: RotationMarker;
}

export interface RotateRootResult {
  mount: string;
  userName: string;
  accessKeyId: string;
  oldAccessKeyId: string;
  /** Keys left by an interrupted rotation that this one deleted first. */
  cleanedUp: string[];
}

/**
 * Written before CreateAccessKey and removed once the rotation is complete or
 * undone. If the process dies in between, the new key exists in AWS but maybe
 * not in the state; this record is how the next rotate-root finds and deletes
 * it (DESIGN invariant 1: no access key the state does not know).
 */
export interface RotationMarker {
  user_name: string;
  old_access_key_id: string;
  /** ISO 8601. */
  started_at: string;
}

export const ROTATION_SETTING_KEY = (mount: string) => `root-rotation/${mount}`;

/** `credops config root --access-key ID` (secret on stdin): stores the keys, encrypted, write-only. */
export async function configureRoot(
  deps: Pick<RootDeps, 'state' | 'clock' | 'audit' | 'env'>,
  opts: { mount: string; accessKeyId: string; secretAccessKey: string },
): Promise<StoredRootKeys> {
  const { mount } = opts;
  try {
    const accessKeyId = opts.accessKeyId.trim();
    checkAccessKeyId(accessKeyId);
    if (!opts.secretAccessKey) throw new UserError('the secret access key is empty: pipe it in on standard input');
    const stored = await writeStoredRootKeys(deps.state, mount, { accessKeyId, secretAccessKey: opts.secretAccessKey }, deps.env, new Date(deps.clock.now()));
    deps.audit.record({ operation: 'config-root', outcome: 'ok', mount, details: { access_key_id: accessKeyId } });
    return stored;
  } catch (err) {
    deps.audit.record({ operation: 'config-root', outcome: 'error', mount, error: errorMessage(err) });
    throw err;
  }
}

/** What `credops config root` shows: the access key id, where the identity comes from, the user name. */
export async function describeRoot(deps: Pick<RootDeps, 'state' | 'env'>, mount: string): Promise<RootDescription> {
  const stored = await readStoredRootKeys(deps.state, mount);
  const marker = await readMarker(deps.state, mount);
  const interrupted = marker ? { interruptedRotation: marker } : {};
  if (stored) {
    return {
      mount,
      source: 'stored keys (credops config root), encrypted in the state',
      accessKeyId: stored.access_key_id,
      ...(stored.user_name ? { userName: stored.user_name } : {}),
      storedAt: stored.stored_at,
      ...interrupted,
    };
  }
  return { mount, ...defaultChainSource(deps.env), ...interrupted };
}

/** Which link of the SDK default chain will answer, judged from the environment alone (no AWS call). */
function defaultChainSource(env: NodeJS.ProcessEnv): { source: string; accessKeyId?: string } {
  const chain = 'AWS SDK default credential chain';
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    return { source: `${chain}: environment (AWS_ACCESS_KEY_ID)`, accessKeyId: env.AWS_ACCESS_KEY_ID };
  }
  if (env.AWS_WEB_IDENTITY_TOKEN_FILE && env.AWS_ROLE_ARN) return { source: `${chain}: web identity (OIDC) for ${env.AWS_ROLE_ARN}` };
  if (env.AWS_PROFILE) return { source: `${chain}: profile ${env.AWS_PROFILE}` };
  return { source: `${chain}: shared config, SSO, container or instance profile` };
}

/**
 * `credops config rotate-root` (Vault's aws/config/rotate-root): replaces the
 * stored key with a new key of the same IAM user that only credops knows.
 * Order: create the new key, wait until AWS accepts it, store it, delete the
 * old one. If a step after CreateAccessKey fails, the old key is put back and
 * the new one deleted, so the user never keeps a key the state does not know.
 */
export async function rotateRoot(deps: RootDeps, opts: { mount: string }): Promise<RotateRootResult> {
  const { mount } = opts;
  try {
    const r = await rotate(deps, mount);
    deps.audit.record({
      operation: 'rotate-root',
      outcome: 'ok',
      mount,
      details: { user_name: r.userName, access_key_id: r.accessKeyId, old_access_key_id: r.oldAccessKeyId, cleaned_up: r.cleanedUp.join(',') || undefined },
    });
    return r;
  } catch (err) {
    deps.audit.record({ operation: 'rotate-root', outcome: 'error', mount, error: errorMessage(err) });
    throw err;
  }
}

async function rotate(deps: RootDeps, mount: string): Promise<RotateRootResult> {
  const { state, clients, clock, env } = deps;
  const stored = await readStoredRootKeys(state, mount);
  if (!stored) {
    throw new UserError(
      `mount "${mount}" has no stored root keys: its identity comes from the AWS SDK default credential chain, ` +
        `which credops does not own and cannot rotate. Store an IAM user's access key first with ` +
        `\`credops config root --mount ${mount} --access-key ID\` (secret access key on standard input)`,
    );
  }
  // Fails here, before any AWS write, when CREDOPS_STATE_KEY is missing or wrong.
  const old = decryptStoredRootKeys(stored, mount, env);
  const config = mountConfig(await state.getApplied(), mount);
  const iam = clients.iam(config);

  const cleanedUp = await finishInterruptedRotation(deps, iam, mount, old.accessKeyId);
  const userName = await rootUserName(iam, mount);

  const marker: RotationMarker = { user_name: userName, old_access_key_id: old.accessKeyId, started_at: new Date(clock.now()).toISOString() };
  await state.setSetting(ROTATION_SETTING_KEY(mount), JSON.stringify(marker));

  let created: RootKeys & { userName: string };
  for (let round = 1; ; round++) {
    try {
      const res = await awsCall(op(mount, 'CreateAccessKey'), () => iam.send(new CreateAccessKeyCommand({ UserName: userName })));
      if (!res.AccessKey?.AccessKeyId || !res.AccessKey.SecretAccessKey) throw new Error('CreateAccessKey returned no access key');
      created = { accessKeyId: res.AccessKey.AccessKeyId, secretAccessKey: res.AccessKey.SecretAccessKey, userName };
      // The SDK retried: an earlier attempt may have created a key whose answer was lost.
      if ((res.$metadata.attempts ?? 1) > 1) await deleteRotationLeftovers(iam, mount, marker, [old.accessKeyId, created.accessKeyId]);
      break;
    } catch (err) {
      if (nothingCreated(err)) {
        // Refused on the first and only attempt (4xx): nothing was created.
        await state.deleteSetting(ROTATION_SETTING_KEY(mount));
        if (isAwsError(err, 'LimitExceeded')) throw await tooManyKeys(iam, mount, userName, old.accessKeyId, err);
        throw err;
      }
      // After a 5xx, a lost connection or a retry, a key may exist all the same (and
      // take the user's second key slot, so that the retry hit LimitExceeded): keys
      // created since the rotation started are found and deleted now, and the
      // rotation tried once more. If the clean-up fails too, the marker stays and
      // the next command's recovery finishes it.
      let deleted: string[];
      try {
        deleted = await deleteRotationLeftovers(iam, mount, marker, [old.accessKeyId]);
      } catch {
        throw new UserError(`${errorMessage(err)}. If AWS created a key all the same, the next credops command deletes it. Mount "${mount}" still uses ${old.accessKeyId}`, { cause: err });
      }
      if (deleted.length && round === 1) continue;
      await state.deleteSetting(ROTATION_SETTING_KEY(mount));
      const cleaned = deleted.length ? ` The key(s) AWS created all the same (${deleted.join(', ')}) were deleted again.` : '';
      throw new UserError(`${errorMessage(err)}.${cleaned} Mount "${mount}" still uses ${old.accessKeyId}`, { cause: err });
    }
  }

  try {
    await waitUntilKeyWorks(deps, config, created);
    await writeStoredRootKeys(state, mount, created, env, new Date(clock.now()));
  } catch (err) {
    throw await undo(deps, iam, mount, stored, created, err, 'the new key was not stored');
  }

  try {
    // Signed with the new key: the root provider reads the state before every request.
    await awsCall(op(mount, 'DeleteAccessKey'), () => iam.send(new DeleteAccessKeyCommand({ UserName: userName, AccessKeyId: old.accessKeyId })));
  } catch (err) {
    if (!isNoSuchEntity(err)) throw await undo(deps, iam, mount, stored, created, err, `the old key ${old.accessKeyId} could not be deleted`);
  }
  await state.deleteSetting(ROTATION_SETTING_KEY(mount));
  return { mount, userName, accessKeyId: created.accessKeyId, oldAccessKeyId: old.accessKeyId, cleanedUp };
}

/** GetUser with the current key names the IAM user the key belongs to (as Vault does). */
async function rootUserName(iam: IAMClient, mount: string): Promise<string> {
  const res = await awsCall(op(mount, 'GetUser'), () => iam.send(new GetUserCommand({})));
  const userName = res.User?.UserName;
  // The account's root user has keys too, but they are not an IAM user's and must not be rotated by a tool.
  if (!userName || res.User?.Arn?.endsWith(':root')) {
    throw new UserError(
      `mount "${mount}": the stored root keys do not belong to an IAM user (GetUser returned ${res.User?.Arn ?? 'no user'}); ` +
        "rotate-root rotates an IAM user's access key only",
    );
  }
  return userName;
}

/**
 * IAM is eventually consistent: a key CreateAccessKey just returned can be
 * refused (InvalidClientTokenId) for seconds, sometimes longer, until it has
 * propagated. Storing it before it works would leave credops holding a key it
 * cannot use, and deleting the old key would then lock credops out. So poll
 * GetCallerIdentity with the new key, backing off exponentially, within the
 * same bound as any new credential (USABLE_TIMEOUT_MS); past it, the rotation
 * is undone and can simply be run again.
 */
async function waitUntilKeyWorks(deps: RootDeps, mount: MountConfig, keys: RootKeys): Promise<void> {
  const sts = deps.clients.sts(mount, { accessKeyId: keys.accessKeyId, secretAccessKey: keys.secretAccessKey });
  await waitUntilAccepted(sts, deps.clock, { what: `the new key ${keys.accessKeyId}`, context: op(mount.name, 'GetCallerIdentity with the new key') });
}

/**
 * Puts the old key back in the state and deletes the new one (signed with the
 * old key again), then returns the error to throw: why the rotation failed and
 * what became of the new key.
 */
async function undo(
  deps: RootDeps,
  iam: IAMClient,
  mount: string,
  previous: StoredRootKeys,
  created: RootKeys & { userName: string },
  cause: unknown,
  what: string,
): Promise<UserError> {
  const why = `${what}: ${errorMessage(cause)}`;
  try {
    await deps.state.setSetting(ROOT_SETTING_KEY(mount), JSON.stringify(previous));
    await awsCall(op(mount, 'DeleteAccessKey'), () => iam.send(new DeleteAccessKeyCommand({ UserName: created.userName, AccessKeyId: created.accessKeyId })));
  } catch (undoErr) {
    // The marker stays: the next rotate-root deletes the new key before anything else.
    return new UserError(
      `rotate-root failed, ${why}. The new key ${created.accessKeyId} could not be deleted again (${errorMessage(undoErr)}); ` +
        `the next \`credops config rotate-root --mount ${mount}\` deletes it, or delete it yourself: ` +
        `aws iam delete-access-key --user-name ${created.userName} --access-key-id ${created.accessKeyId}`,
      { cause },
    );
  }
  await deps.state.deleteSetting(ROTATION_SETTING_KEY(mount));
  return new UserError(
    `rotate-root failed, ${why}. The new key ${created.accessKeyId} was deleted again; mount "${mount}" still uses ${previous.access_key_id}`,
    { cause },
  );
}

/**
 * A rotation that died between CreateAccessKey and its end left its marker.
 * Any key of that user other than the stored one is then either the replaced
 * key (stored the new one, died before deleting) or the new key (created, died
 * before storing): both go. Keys created before the rotation started belong to
 * someone else and stay. CreateDate is AWS's clock, so ours is allowed to be
 * off by as much as SigV4 itself allows.
 */
async function finishInterruptedRotation(deps: Pick<RootDeps, 'state'>, iam: IAMClient, mount: string, storedKeyId: string): Promise<string[]> {
  const marker = await readMarker(deps.state, mount);
  if (!marker) return [];
  const leftovers = await deleteRotationLeftovers(iam, mount, marker, [storedKeyId]);
  await deps.state.deleteSetting(ROTATION_SETTING_KEY(mount));
  return leftovers;
}

/** The user's keys other than `keep` that the rotation (or the one before it) created. */
async function deleteRotationLeftovers(iam: IAMClient, mount: string, marker: RotationMarker, keep: string[]): Promise<string[]> {
  const startedAt = Date.parse(marker.started_at) - SIGV4_CLOCK_SKEW_MS;
  const operation = 'cleaning up after an interrupted rotate-root';
  const res = await awsCall(op(mount, `ListAccessKeys (${operation})`), () => iam.send(new ListAccessKeysCommand({ UserName: marker.user_name })));
  const leftovers = (res.AccessKeyMetadata ?? [])
    .filter((k) => k.AccessKeyId && !keep.includes(k.AccessKeyId))
    .filter((k) => k.AccessKeyId === marker.old_access_key_id || (k.CreateDate?.getTime() ?? 0) >= startedAt)
    .map((k) => k.AccessKeyId!);
  for (const accessKeyId of leftovers) {
    try {
      await awsCall(op(mount, `DeleteAccessKey (${operation})`), () => iam.send(new DeleteAccessKeyCommand({ UserName: marker.user_name, AccessKeyId: accessKeyId })));
    } catch (err) {
      if (!isNoSuchEntity(err)) throw err;
    }
  }
  return leftovers;
}

/**
 * Every command's recovery (Engine.recover) finishes what a rotate-root that
 * died left: without it, a key created just before the crash would live on,
 * unknown to the state, until someone ran rotate-root again. Reads only the
 * stored key's id (not the secret), so it needs no CREDOPS_STATE_KEY.
 */
export async function hasInterruptedRotation(state: StateStore, mounts: MountConfig[]): Promise<boolean> {
  for (const mount of mounts) if (await readMarker(state, mount.name)) return true;
  return false;
}

export async function recoverRootRotations(deps: Pick<RootDeps, 'state' | 'clients'>, mounts: MountConfig[]): Promise<{ mount: string; deleted: string[] }[]> {
  const done: { mount: string; deleted: string[] }[] = [];
  for (const mount of mounts) {
    if (!(await readMarker(deps.state, mount.name))) continue;
    const stored = await readStoredRootKeys(deps.state, mount.name);
    if (!stored) {
      await deps.state.deleteSetting(ROTATION_SETTING_KEY(mount.name));
      continue;
    }
    done.push({ mount: mount.name, deleted: await finishInterruptedRotation(deps, deps.clients.iam(mount), mount.name, stored.access_key_id) });
  }
  return done;
}

async function tooManyKeys(iam: IAMClient, mount: string, userName: string, storedKeyId: string, cause: unknown): Promise<UserError> {
  let others: string[] = [];
  try {
    const res = await iam.send(new ListAccessKeysCommand({ UserName: userName }));
    others = (res.AccessKeyMetadata ?? []).map((k) => k.AccessKeyId ?? '').filter((id) => id && id !== storedKeyId);
  } catch {
    // The explanation stands without the list.
  }
  return new UserError(
    `mount "${mount}": IAM user "${userName}" already has ${IAM_ACCESS_KEYS_PER_USER} access keys, IAM's limit per user ` +
      `(the stored root key ${storedKeyId}${others.length ? ` and ${others.join(', ')}` : ''}). rotate-root creates the new key ` +
      'before it deletes the old one, so it needs a free slot. Delete the key credops does not use ' +
      `(aws iam delete-access-key --user-name ${userName} --access-key-id ${others.length === 1 ? others[0] : 'OTHER_KEY_ID'}) ` +
      'and run rotate-root again',
    { cause },
  );
}

async function readMarker(state: StateStore, mount: string): Promise<RotationMarker | undefined> {
  const raw = await state.getSetting(ROTATION_SETTING_KEY(mount));
  return raw === undefined ? undefined : (JSON.parse(raw) as RotationMarker);
}

function checkAccessKeyId(id: string): void {
  if (id.length < IAM_ACCESS_KEY_ID_MIN || id.length > IAM_ACCESS_KEY_ID_MAX || !/^\w+$/.test(id)) {
    // Not echoed: a secret access key passed here by mistake must reach neither the terminal nor the audit log.
    throw new UserError(
      `the --access-key value is not an AWS access key id (${IAM_ACCESS_KEY_ID_MIN} to ${IAM_ACCESS_KEY_ID_MAX} letters and digits, ` +
        'such as AKIA...); pass the access key id with --access-key and the secret access key on standard input',
    );
  }
}

/** Names the failing call in AWS errors: "aws/config/rotate-root CreateAccessKey: AWS AccessDenied: ...". */
function op(mount: string, operation: string) {
  return { operation: `${mount}/config/rotate-root ${operation}` };
}

export interface ScheduledRotations {
  rotated: RotateRootResult[];
  failed: { mount: string; error: string }[];
}

/**
 * The root keys due for rotation by their mount's rotation_period or
 * rotation_schedule (Vault 1.19), rotated as `config rotate-root` does: the
 * new key works before the old one is deleted. A mount whose identity is not
 * a stored key (the SDK's chain, a role_arn) has nothing credops may rotate.
 */
export async function rotateRootsIfDue(deps: RootDeps, mounts: MountConfig[]): Promise<ScheduledRotations> {
  const result: ScheduledRotations = { rotated: [], failed: [] };
  for (const mount of mounts) {
    if (mount.rotation_period === undefined && mount.rotation_schedule === undefined) continue;
    const stored = await readStoredRootKeys(deps.state, mount.name);
    if (!stored) continue;
    if (!rootRotationDue(mount, Date.parse(stored.stored_at), deps.clock.now())) continue;
    try {
      result.rotated.push(await rotateRoot(deps, { mount: mount.name }));
    } catch (err) {
      result.failed.push({ mount: mount.name, error: errorMessage(err) });
    }
  }
  return result;
}

/** Whether a root key stored at storedAt is due at now (epoch ms); a key of unknown age is due. */
export function rootRotationDue(mount: Pick<MountConfig, 'rotation_period' | 'rotation_schedule'>, storedAt: number, now: number): boolean {
  if (Number.isNaN(storedAt)) return true;
  if (mount.rotation_period !== undefined) return now >= storedAt + mount.rotation_period * 1000;
  if (mount.rotation_schedule !== undefined) {
    const next = CronExpressionParser.parse(mount.rotation_schedule, { currentDate: new Date(storedAt), tz: 'UTC' }).next();
    return next.getTime() <= now;
  }
  return false;
}
