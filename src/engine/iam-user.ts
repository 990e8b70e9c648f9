import {
  AddUserToGroupCommand,
  AttachUserPolicyCommand,
  CreateAccessKeyCommand,
  CreateUserCommand,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import {
  IAM_PATH_MAX,
  IAM_TAG_KEY_MAX,
  IAM_TAG_VALUE_MAX,
  IAM_TAGS_PER_RESOURCE,
  IAM_USER_NAME_MAX,
} from '../limits.js';
import type { Lease, LeaseResources, RoleSpec } from '../model/types.js';
import { awsCall } from './aws-errors.js';
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
      { role: role.name, mount: mount.name, now },
      IAM_USER_NAME_MAX,
    );
    const iam = ctx.clients.iam(mount);
    const target = { mount: mount.name, role: role.name };
    const call = <T>(operation: string, run: () => Promise<T>) => awsCall({ ...target, operation }, run);

    // Everything below hangs off this user name, so one entry covers every
    // write: recovery deletes the user with whatever it finds attached.
    const journalId = await ctx.journal.begin({ userName: UserName });
    try {
      const created = await call('CreateUser', () =>
        iam.send(
          new CreateUserCommand({
            UserName,
            Path: role.user_path,
            PermissionsBoundary: role.permissions_boundary_arn,
            Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
          }),
        ),
      );
      const resources: LeaseResources = { userName: UserName, userArn: created.User?.Arn, attachedPolicyArns: [], groups: [] };
      if (role.policy_document) {
        const PolicyDocument = JSON.stringify(role.policy_document);
        await call('PutUserPolicy', () => iam.send(new PutUserPolicyCommand({ UserName, PolicyName: INLINE_POLICY_NAME, PolicyDocument })));
        resources.inlinePolicyName = INLINE_POLICY_NAME;
      }
      for (const PolicyArn of role.policy_arns) {
        await call('AttachUserPolicy', () => iam.send(new AttachUserPolicyCommand({ UserName, PolicyArn })));
        resources.attachedPolicyArns!.push(PolicyArn);
      }
      for (const GroupName of role.iam_groups) {
        await call('AddUserToGroup', () => iam.send(new AddUserToGroupCommand({ UserName, GroupName })));
        resources.groups!.push(GroupName);
      }
      const key = await call('CreateAccessKey', () => iam.send(new CreateAccessKeyCommand({ UserName })));
      const accessKeyId = key.AccessKey?.AccessKeyId;
      const secretAccessKey = key.AccessKey?.SecretAccessKey;
      if (!accessKeyId || !secretAccessKey) throw new Error(`CreateAccessKey for ${UserName} returned no key`);
      resources.accessKeyId = accessKeyId;

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
      // Undo now rather than at the next recovery; if the undo fails too, the
      // entry stays and the next command's recovery retries it.
      const undone = await deleteIamUserCompletely(iam, UserName, target, (ms) => clock.sleep(ms)).then(
        () => true,
        () => false,
      );
      if (undone) await ctx.journal.discard(journalId);
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
