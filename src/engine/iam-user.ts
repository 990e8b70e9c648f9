import {
  AddUserToGroupCommand,
  AttachUserPolicyCommand,
  CreateAccessKeyCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeleteUserCommand,
  DeleteUserPolicyCommand,
  DetachUserPolicyCommand,
  GetUserCommand,
  ListAccessKeysCommand,
  PutUserPolicyCommand,
  RemoveUserFromGroupCommand,
  type CreateUserCommandInput,
  type IAMClient,
} from '@aws-sdk/client-iam';
import {
  IAM_PATH_MAX,
  IAM_TAG_KEY_MAX,
  IAM_TAG_VALUE_MAX,
  IAM_TAGS_PER_RESOURCE,
  IAM_USER_NAME_MAX,
} from '../limits.js';
import type { Lease, LeaseResources, RoleSpec } from '../model/types.js';
import { attemptsOf, awsCall, isAwsError, isDeleteConflict, isNoSuchEntity, nothingCreated } from './aws-errors.js';
import { checkLength, checkTags, checkTypeLimits, limitError } from './checks.js';
import type { CredentialKind, IssueContext, Issued } from './credential-type.js';
import { checkIamUserDrift, restoreIamUser } from './drift.js';
import { deleteIamUserCompletely, revokeIamUser } from './revoke.js';
import { DEFAULT_USERNAME_TEMPLATE, renderUsername } from './username.js';

/** Name of the inline policy holding the role's policy_document on each user. */
export const INLINE_POLICY_NAME = 'credops';

/** Tags credops puts on every user it creates, so that a user found in AWS can be traced to its lease. */
export const CREDOPS_TAGS = { mount: 'credops:mount', role: 'credops:role', lease: 'credops:lease' } as const;

/**
 * iam_user (Vault's secret_access_keys.go): a dedicated IAM user with the
 * role's policies and one access key. Crash-safe: the user name is chosen and
 * journalled before CreateUser, and the lease replaces that entry atomically
 * once the key exists (journal.ts).
 */
export const iamUser: CredentialKind = {
  type: 'iam_user',
  renewable: true,
  defaultPath: 'creds',
  verifyBeforeUse: true,
  createsIamUsers: true,
  drift: {
    check: (c) => checkIamUserDrift(c.clients.iam(c.mount), c.lease, c.role, c.expected),
    restore: (c, steps) => restoreIamUser(c.clients.iam(c.mount), c.lease, steps),
  },

  async issue(ctx: IssueContext): Promise<Issued> {
    const { role, mount, clock, leaseId } = ctx;
    const tags = userTags(role, leaseId);
    checkIamUserLimits(role, tags);
    const now = clock.now();
    const UserName = renderUsername(
      mount.username_template ?? DEFAULT_USERNAME_TEMPLATE,
      { role: role.name, mount: mount.name, type: 'IAM', now, ...(ctx.request.sink ? { displayName: ctx.request.sink } : {}) },
      IAM_USER_NAME_MAX,
    );
    const iam = ctx.clients.iam(mount);
    const target = { mount: mount.name, role: role.name };
    const call = <T>(operation: string, run: () => Promise<T>) => awsCall({ ...target, operation }, run);

    // Everything below hangs off this user name, so one entry covers every
    // write: recovery deletes the user with whatever it finds attached.
    const journalId = await ctx.journal.begin({ userName: UserName });
    // What was sent, whether or not AWS answered: an undo removes each of them.
    const attempted: Attempted = { user: false, inline: false, policyArns: [], groups: [], key: false };
    try {
      attempted.user = true;
      const userArn = await createUser(iam, call, {
        UserName,
        Path: role.user_path,
        PermissionsBoundary: role.permissions_boundary_arn,
        Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
      });
      const resources: LeaseResources = { userName: UserName, userArn, attachedPolicyArns: [], groups: [] };
      if (role.policy_document) {
        const PolicyDocument = JSON.stringify(role.policy_document);
        attempted.inline = true;
        await call('PutUserPolicy', () => iam.send(new PutUserPolicyCommand({ UserName, PolicyName: INLINE_POLICY_NAME, PolicyDocument })));
        resources.inlinePolicyName = INLINE_POLICY_NAME;
      }
      for (const PolicyArn of role.policy_arns) {
        attempted.policyArns.push(PolicyArn);
        await call('AttachUserPolicy', () => iam.send(new AttachUserPolicyCommand({ UserName, PolicyArn })));
        resources.attachedPolicyArns!.push(PolicyArn);
      }
      for (const GroupName of role.iam_groups) {
        attempted.groups.push(GroupName);
        await call('AddUserToGroup', () => iam.send(new AddUserToGroupCommand({ UserName, GroupName })));
        resources.groups!.push(GroupName);
      }
      attempted.key = true;
      const key = await createAccessKey(iam, call, UserName);
      const accessKeyId = key.AccessKey?.AccessKeyId;
      const secretAccessKey = key.AccessKey?.SecretAccessKey;
      if (!accessKeyId || !secretAccessKey) throw new Error(`CreateAccessKey for ${UserName} returned no key`);
      attempted.keyId = accessKeyId;
      resources.accessKeyId = accessKeyId;
      // The SDK retried: an earlier attempt may have created a key whose answer was
      // lost. The user is new and credops's, so any other key is one nobody holds.
      if ((key.$metadata.attempts ?? 1) > 1) await deleteKeysExcept(iam, call, UserName, accessKeyId);

      const ttl = Math.min(ctx.request.ttl ?? mount.lease, mount.lease_max);
      const lease: Lease = {
        leaseId,
        mount: mount.name,
        role: role.name,
        credentialType: 'iam_user',
        path: ctx.request.path,
        issuedAt: now,
        expiresAt: now + ttl * 1000,
        maxExpiresAt: now + mount.lease_max * 1000,
        renewable: true,
        resources,
        ...(ctx.request.sink ? { sink: ctx.request.sink } : {}),
      };
      return { credential: { lease, accessKeyId, secretAccessKey }, journalId };
    } catch (err) {
      // AWS refused CreateUser outright (or no request could be signed): nothing
      // exists, so nothing is left to undo or remember.
      const onlyCreateUser = !attempted.inline && !attempted.key && attempted.policyArns.length === 0 && attempted.groups.length === 0;
      if (attempted.user && onlyCreateUser && nothingCreated(err)) {
        await ctx.journal.discard(journalId);
        throw err;
      }
      // Undo now, exactly what was sent, rather than at the next recovery. The
      // entry is forgotten only once DeleteUser succeeded: "absent" may be IAM's
      // eventual consistency hiding a user that exists (journal.ts), so that
      // entry stays for recovery, which forgets it after ROLLBACK_MIN_AGE_MS.
      const outcome = await undoIssuance(iam, call, UserName, attempted, target, (ms) => clock.sleep(ms)).catch(() => 'failed' as const);
      if (outcome === 'deleted') await ctx.journal.discard(journalId);
      throw err;
    }
  },

  async revoke(ctx) {
    const { lease, mount } = ctx;
    await revokeIamUser(ctx.clients.iam(mount), lease.resources, { mount: lease.mount, role: lease.role }, (ms) => ctx.clock.sleep(ms));
    return { invalidated: true };
  },

  async rollback(ctx) {
    const userName = ctx.entry.data.userName;
    if (typeof userName !== 'string') return 'absent';
    const target = { mount: ctx.entry.mount, role: ctx.entry.role };
    return deleteIamUserCompletely(ctx.clients.iam(ctx.mount), userName, target, (ms) => ctx.clock.sleep(ms));
  },
};

/** What an issuance sent to AWS, answered or not. */
interface Attempted {
  user: boolean;
  inline: boolean;
  policyArns: string[];
  groups: string[];
  key: boolean;
  /** The key CreateAccessKey returned, when it answered. */
  keyId?: string;
}

type Call = <T>(operation: string, run: () => Promise<T>) => Promise<T>;

/**
 * CreateUser, with its answer resolved when the SDK retried: a first attempt
 * that AWS applied but whose answer was lost (a 5xx, a reset) makes the retry
 * fail with EntityAlreadyExists. The name is credops's own (it carries random
 * characters), so the user that exists is this issuance's: carry on with it.
 */
async function createUser(iam: IAMClient, call: Call, input: CreateUserCommandInput): Promise<string | undefined> {
  try {
    const created = await call('CreateUser', () => iam.send(new CreateUserCommand(input)));
    return created.User?.Arn;
  } catch (err) {
    // Tags in CreateUser need iam:TagUser, which Vault's documented least-privilege
    // policy does not grant. AWS refused the whole call, so nothing exists: create
    // the user untagged. `tidy --orphans` then knows it by its name's shape alone.
    if (input.Tags?.length && isAwsError(err, 'AccessDenied') && /iam:TagUser/.test((err as Error).message)) {
      return createUser(iam, call, { ...input, Tags: undefined });
    }
    if (!isAwsError(err, 'EntityAlreadyExists') || attemptsOf(err) < 2) throw err;
    const existing = await call('GetUser', () => iam.send(new GetUserCommand({ UserName: input.UserName })));
    return existing.User?.Arn;
  }
}

/**
 * CreateAccessKey on the new user. Two attempts whose answers were lost after
 * AWS created their keys fill the user's two key slots, and the SDK's next
 * retry hits LimitExceeded: the user is new and credops's, so its keys are
 * ones nobody holds. They are deleted and the key created once more.
 */
async function createAccessKey(iam: IAMClient, call: Call, UserName: string) {
  try {
    return await call('CreateAccessKey', () => iam.send(new CreateAccessKeyCommand({ UserName })));
  } catch (err) {
    if (!isAwsError(err, 'LimitExceeded') || attemptsOf(err) < 2) throw err;
    await deleteKeysExcept(iam, call, UserName, undefined);
    return call('CreateAccessKey', () => iam.send(new CreateAccessKeyCommand({ UserName })));
  }
}

/** Deletes every key of the user but `keep` (ListAccessKeys is in the least-privilege policy Vault documents). */
async function deleteKeysExcept(iam: IAMClient, call: Call, UserName: string, keep: string | undefined): Promise<void> {
  const keys = await call('ListAccessKeys', () => iam.send(new ListAccessKeysCommand({ UserName })));
  for (const { AccessKeyId } of keys.AccessKeyMetadata ?? []) {
    if (AccessKeyId && AccessKeyId !== keep) await ignoreNoSuchEntity(call('DeleteAccessKey', () => iam.send(new DeleteAccessKeyCommand({ UserName, AccessKeyId }))));
  }
}

/**
 * Removes what the issuance sent, in the safe order, with only the calls
 * issuance itself is allowed (no listing of out-of-band additions, which a
 * least-privilege root may not do): the key (all of the user's keys when
 * CreateAccessKey's answer was lost), the inline policy, the managed policies,
 * the groups, then the user. If DeleteUser still conflicts, something else
 * is attached: the full, best-effort cleanup takes over.
 */
async function undoIssuance(
  iam: IAMClient,
  call: Call,
  UserName: string,
  attempted: Attempted,
  target: { mount: string; role: string },
  sleep: (ms: number) => Promise<void>,
): Promise<'deleted' | 'absent'> {
  const quietly = (operation: string, run: () => Promise<unknown>) => ignoreNoSuchEntity(call(operation, run));
  try {
    if (attempted.key) {
      if (attempted.keyId) await quietly('DeleteAccessKey', () => iam.send(new DeleteAccessKeyCommand({ UserName, AccessKeyId: attempted.keyId })));
      else await deleteKeysExcept(iam, call, UserName, undefined);
    }
    if (attempted.inline) await quietly('DeleteUserPolicy', () => iam.send(new DeleteUserPolicyCommand({ UserName, PolicyName: INLINE_POLICY_NAME })));
    for (const PolicyArn of attempted.policyArns) await quietly('DetachUserPolicy', () => iam.send(new DetachUserPolicyCommand({ UserName, PolicyArn })));
    for (const GroupName of attempted.groups) await quietly('RemoveUserFromGroup', () => iam.send(new RemoveUserFromGroupCommand({ UserName, GroupName })));
  } catch (err) {
    // A listing that finds no user: it is gone, or not visible yet.
    if (isNoSuchEntity(err)) return 'absent';
    throw err;
  }
  try {
    await call('DeleteUser', () => iam.send(new DeleteUserCommand({ UserName })));
    return 'deleted';
  } catch (err) {
    if (isNoSuchEntity(err)) return 'absent';
    if (!isDeleteConflict(err)) throw err;
  }
  return deleteIamUserCompletely(iam, UserName, target, sleep);
}

async function ignoreNoSuchEntity(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (!isNoSuchEntity(err)) throw err;
  }
}

function userTags(role: RoleSpec, leaseId: string): Record<string, string> {
  return {
    ...role.iam_tags,
    [CREDOPS_TAGS.mount]: role.mount,
    [CREDOPS_TAGS.role]: role.name,
    [CREDOPS_TAGS.lease]: leaseId,
  };
}

function checkIamUserLimits(role: RoleSpec, tags: Record<string, string>): void {
  checkTypeLimits(role, 'iam_user');
  checkLength(role, 'user_path', role.user_path, 1, IAM_PATH_MAX);
  if (role.user_path !== undefined && !/^\/(.*\/)?$/.test(role.user_path)) {
    throw limitError(role, `user_path "${role.user_path}" must begin and end with "/"`);
  }
  for (const key of Object.values(CREDOPS_TAGS)) {
    if (key in role.iam_tags) throw limitError(role, `iam_tags must not set "${key}": credops sets it to trace the user to its lease`);
  }
  checkTags(role, 'iam_tags (with the 3 credops:* tags)', tags, { count: IAM_TAGS_PER_RESOURCE, keyMax: IAM_TAG_KEY_MAX, valueMax: IAM_TAG_VALUE_MAX });
}
