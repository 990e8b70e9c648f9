/**
 * IAM's Query API (version 2010-05-08): the actions credops and its tests call, with AWS's
 * validation, error codes and pagination.
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_Operations.html
 */
import { AwsError, alreadyExists, deleteConflict, limitExceeded, noSuchEntity, validation } from './errors.js';
import type { CallContext, QueryHandler, QueryParams, Tag } from './query.js';
import { paginate } from './query.js';
import type { AccessKey, Group, ManagedPolicy, Role, User, World } from './state.js';
import type { XmlValue } from './xml.js';

export const IAM_NAMESPACE = 'https://iam.amazonaws.com/doc/2010-05-08/';

// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
const NAME_MAX = 64;
const ROLE_NAME_MAX = 64;
const PATH_MAX = 512;
const INLINE_USER_POLICY_MAX = 2048; // non-whitespace characters
const INLINE_ROLE_POLICY_MAX = 10_240; // all of a role's inline policies together, non-whitespace characters
const MANAGED_POLICY_MAX = 6144;
const ACCESS_KEYS_PER_USER = 2;
const GROUPS_PER_USER = 10;
const MANAGED_POLICIES_PER_USER = 20;
const MANAGED_POLICIES_PER_GROUP = 10;
const INLINE_GROUP_POLICY_MAX = 5120; // non-whitespace characters
const TAGS_PER_RESOURCE = 50;
const TAG_KEY_MAX = 128;
const TAG_VALUE_MAX = 256;
const SSH_KEYS_PER_USER = 5;
const SIGNING_CERTS_PER_USER = 2;
const ROLE_SESSION_MIN = 3600;
const ROLE_SESSION_MAX = 43_200;

const NAME_PATTERN = /^[\w+=,.@-]+$/;
const PATH_PATTERN = /^(\/|\/[\u0021-\u007e]+\/)$/;

// ---- validation -------------------------------------------------------------------------

function checkName(value: string, member: string, max = NAME_MAX): string {
  if (value.length > max) {
    throw validation(`1 validation error detected: Value '${value}' at '${member}' failed to satisfy constraint: Member must have length less than or equal to ${max}`);
  }
  if (!NAME_PATTERN.test(value)) {
    throw validation(`1 validation error detected: Value '${value}' at '${member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+`);
  }
  return value;
}

function checkPath(p: QueryParams, member = 'Path'): string {
  const path = p.opt(member) ?? '/';
  if (path.length > PATH_MAX || !PATH_PATTERN.test(path)) {
    throw validation(`The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.`);
  }
  return path;
}

export function checkTags(tags: Tag[], existing: Tag[] = []): Tag[] {
  for (const t of tags) {
    if (t.Key.length < 1 || t.Key.length > TAG_KEY_MAX) throw validation(`1 validation error detected: Value '${t.Key}' at 'tags.key' failed to satisfy constraint: Member must have length less than or equal to ${TAG_KEY_MAX}`);
    if (t.Value.length > TAG_VALUE_MAX) throw validation(`1 validation error detected: Value at 'tags.value' failed to satisfy constraint: Member must have length less than or equal to ${TAG_VALUE_MAX}`);
  }
  const merged = [...existing];
  for (const t of tags) {
    const i = merged.findIndex((m) => m.Key === t.Key);
    if (i === -1) merged.push(t);
    else merged[i] = t;
  }
  if (merged.length > TAGS_PER_RESOURCE) throw limitExceeded(`The number of tags has reached the maximum limit of ${TAGS_PER_RESOURCE}.`);
  return merged;
}

/** Throws MalformedPolicyDocument as IAM does for a document that is not a policy. */
export function checkPolicyDocument(doc: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(doc);
  } catch {
    throw new AwsError('MalformedPolicyDocument', 'Syntax errors in policy.', 400);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new AwsError('MalformedPolicyDocument', 'Syntax errors in policy.', 400);
  }
  const statement = (parsed as Record<string, unknown>)['Statement'];
  if (statement === undefined) throw new AwsError('MalformedPolicyDocument', 'Missing required field Statement', 400);
  const statements = Array.isArray(statement) ? statement : [statement];
  for (const s of statements) {
    if (typeof s !== 'object' || s === null) throw new AwsError('MalformedPolicyDocument', 'Syntax errors in policy.', 400);
    const effect = (s as Record<string, unknown>)['Effect'];
    if (effect !== 'Allow' && effect !== 'Deny') throw new AwsError('MalformedPolicyDocument', 'Missing required field Effect', 400);
  }
}

export const nonWhitespaceLength = (s: string): number => s.replace(/\s/g, '').length;

// ---- lookups -----------------------------------------------------------------------------

function userNotFound(name: string): AwsError {
  return noSuchEntity(`The user with name ${name} cannot be found.`);
}

function namedUser(world: World, name: string): User {
  const user = world.user(name);
  if (!user || world.now() < user.createDate + world.userPropagationMs) throw userNotFound(name);
  return user;
}

/** UserName, or the calling IAM user when it is left out (as IAM does for key and user actions). */
function targetUser(p: QueryParams, ctx: CallContext): User {
  const name = p.opt('UserName');
  if (name) return namedUser(ctx.world, name);
  if (ctx.caller.kind === 'user') return ctx.caller.user;
  throw validation('Must specify userName when calling with non-User credentials');
}

function namedGroup(world: World, name: string): Group {
  const group = world.group(name);
  if (!group) throw noSuchEntity(`The group with name ${name} cannot be found.`);
  return group;
}

function namedRole(world: World, name: string): Role {
  const role = world.role(name);
  if (!role) throw noSuchEntity(`The role with name ${name} cannot be found.`);
  return role;
}

function userKey(world: World, user: User, accessKeyId: string): AccessKey {
  const key = world.accessKeys.get(accessKeyId);
  if (!key || key.userName.toLowerCase() !== user.name.toLowerCase()) {
    throw noSuchEntity(`The Access Key with id ${accessKeyId} cannot be found.`);
  }
  return key;
}

// ---- shapes ------------------------------------------------------------------------------

const date = (ms: number): Date => new Date(ms);
const tagsXml = (tags: Tag[]): XmlValue => (tags.length > 0 ? tags.map((t) => ({ Key: t.Key, Value: t.Value })) : undefined);
const boundaryXml = (arn: string | undefined): XmlValue =>
  arn === undefined ? undefined : { PermissionsBoundaryType: 'PermissionsBoundaryPolicy', PermissionsBoundaryArn: arn };

function userXml(u: User, detail = false): Record<string, XmlValue> {
  return {
    Path: u.path,
    UserName: u.name,
    UserId: u.id,
    Arn: u.arn,
    CreateDate: date(u.createDate),
    ...(detail ? { PermissionsBoundary: boundaryXml(u.permissionsBoundary), Tags: tagsXml(u.tags) } : {}),
  };
}

const groupXml = (g: Group): Record<string, XmlValue> => ({ Path: g.path, GroupName: g.name, GroupId: g.id, Arn: g.arn, CreateDate: date(g.createDate) });

function roleXml(r: Role, detail = false): Record<string, XmlValue> {
  return {
    Path: r.path,
    RoleName: r.name,
    RoleId: r.id,
    Arn: r.arn,
    CreateDate: date(r.createDate),
    // IAM returns policy documents URL-encoded (RFC 3986).
    AssumeRolePolicyDocument: encodeURIComponent(r.assumeRolePolicyDocument),
    Description: r.description,
    MaxSessionDuration: r.maxSessionDuration,
    ...(detail ? { PermissionsBoundary: boundaryXml(r.permissionsBoundary), Tags: tagsXml(r.tags) } : {}),
  };
}

function policyXml(world: World, p: ManagedPolicy): Record<string, XmlValue> {
  return {
    PolicyName: p.name,
    PolicyId: p.id,
    Arn: p.arn,
    Path: p.path,
    DefaultVersionId: 'v1',
    AttachmentCount: world.attachmentCount(p.arn),
    PermissionsBoundaryUsageCount: 0,
    IsAttachable: true,
    Description: p.description,
    CreateDate: date(p.createDate),
    UpdateDate: date(p.createDate),
  };
}

const keyMetaXml = (k: AccessKey): Record<string, XmlValue> => ({
  UserName: k.userName,
  AccessKeyId: k.accessKeyId,
  Status: k.status,
  CreateDate: date(k.createDate),
});

const policyName = (arn: string): string => arn.slice(arn.lastIndexOf('/') + 1);

function checkStatus(p: QueryParams): 'Active' | 'Inactive' {
  const status = p.req('Status');
  if (status !== 'Active' && status !== 'Inactive') {
    throw validation(`1 validation error detected: Value '${status}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]`);
  }
  return status;
}

// ---- users -------------------------------------------------------------------------------

const CreateUser: QueryHandler = (p, { world }) => {
  const name = checkName(p.req('UserName'), 'userName');
  const path = checkPath(p);
  if (world.user(name)) throw alreadyExists(`User with name ${name} already exists.`);
  const boundary = p.opt('PermissionsBoundary');
  if (boundary !== undefined && !world.policyExists(boundary)) throw noSuchEntity(`Policy ${boundary} does not exist or is not attachable.`);
  const tags = checkTags(p.tags());
  const user = world.addUser(name, path, { tags, ...(boundary !== undefined ? { permissionsBoundary: boundary } : {}) });
  return { User: userXml(user, true) };
};

const GetUser: QueryHandler = (p, ctx) => ({ User: userXml(targetUser(p, ctx), true) });

/** The order IAM checks what still hangs off a user; each message is AWS's. */
const DELETE_CONFLICTS: [(u: User) => boolean, string][] = [
  [(u) => u.loginProfile !== undefined, 'Cannot delete entity, must delete login profile first.'],
  [(u) => u.accessKeys.length > 0, 'Cannot delete entity, must delete access keys first.'],
  [(u) => u.signingCerts.size > 0, 'Cannot delete entity, must delete signing certificates first.'],
  [(u) => u.sshKeys.size > 0, 'Cannot delete entity, must delete SSH public keys first.'],
  [(u) => u.mfaDevices.length > 0, 'Cannot delete entity, must delete MFA device first.'],
  [(u) => u.inlinePolicies.size > 0, 'Cannot delete entity, must delete policies first.'],
  [(u) => u.attachedPolicies.length > 0, 'Cannot delete entity, must detach all policies first.'],
  [(u) => u.groups.size > 0, 'Cannot delete entity, must remove users from group first.'],
];

const DeleteUser: QueryHandler = (p, { world }) => {
  const user = namedUser(world, p.req('UserName'));
  for (const [holds, message] of DELETE_CONFLICTS) if (holds(user)) throw deleteConflict(message);
  world.forgetUser(user);
  return undefined;
};

const ListUsers: QueryHandler = (p, { world }) => {
  const prefix = p.opt('PathPrefix') ?? '/';
  const users = [...world.users.values()].filter((u) => u.path.startsWith(prefix));
  const { page, more } = paginate(p, users, (u) => u.name.toLowerCase());
  return { Users: page.map((u) => userXml(u)), ...more };
};

const UpdateUser: QueryHandler = (p, { world }) => {
  const user = namedUser(world, p.req('UserName'));
  const newName = p.opt('NewUserName');
  const newPath = p.has('NewPath') ? checkPath(p, 'NewPath') : undefined;
  if (newName !== undefined && newName.toLowerCase() !== user.name.toLowerCase()) {
    checkName(newName, 'newUserName');
    if (world.user(newName)) throw alreadyExists(`User with name ${newName} already exists.`);
    world.users.delete(user.name.toLowerCase());
    for (const id of user.accessKeys) {
      const key = world.accessKeys.get(id);
      if (key) key.userName = newName;
    }
    user.name = newName;
    world.users.set(newName.toLowerCase(), user);
  }
  if (newPath !== undefined) user.path = newPath;
  user.arn = world.iamArn('user', user.path, user.name);
  return undefined;
};

const TagUser: QueryHandler = (p, { world }) => {
  const user = namedUser(world, p.req('UserName'));
  user.tags = checkTags(p.tags(), user.tags);
  return undefined;
};

const UntagUser: QueryHandler = (p, { world }) => {
  const user = namedUser(world, p.req('UserName'));
  const keys = new Set(p.list('TagKeys'));
  user.tags = user.tags.filter((t) => !keys.has(t.Key));
  return undefined;
};

const ListUserTags: QueryHandler = (p, { world }) => {
  const user = namedUser(world, p.req('UserName'));
  const { page, more } = paginate(p, user.tags, (t) => t.Key);
  return { Tags: page.map((t) => ({ Key: t.Key, Value: t.Value })), ...more };
};

// ---- inline and managed policies on users ------------------------------------------------

const PutUserPolicy: QueryHandler = (p, { world }) => {
  const user = namedUser(world, p.req('UserName'));
  const name = checkName(p.req('PolicyName'), 'policyName', 128);
  const doc = p.req('PolicyDocument');
  checkPolicyDocument(doc);
  const others = [...user.inlinePolicies].filter(([n]) => n !== name).reduce((sum, [, d]) => sum + nonWhitespaceLength(d), 0);
  if (others + nonWhitespaceLength(doc) > INLINE_USER_POLICY_MAX) {
    throw limitExceeded(`Maximum policy size of ${INLINE_USER_POLICY_MAX} bytes exceeded for user ${user.name}`);
  }
  user.inlinePolicies.set(name, doc);
  return undefined;
};

function inlinePolicy(user: User, name: string): string {
  const doc = user.inlinePolicies.get(name);
  if (doc === undefined) throw noSuchEntity(`The user policy with name ${name} cannot be found.`);
  return doc;
}

const GetUserPolicy: QueryHandler = (p, { world }) => {
  const user = namedUser(world, p.req('UserName'));
  const name = p.req('PolicyName');
  return { UserName: user.name, PolicyName: name, PolicyDocument: encodeURIComponent(inlinePolicy(user, name)) };
};

const DeleteUserPolicy: QueryHandler = (p, { world }) => {
  const user = namedUser(world, p.req('UserName'));
  const name = p.req('PolicyName');
  inlinePolicy(user, name);
  user.inlinePolicies.delete(name);
  return undefined;
};

const ListUserPolicies: QueryHandler = (p, { world }) => {
  const user = namedUser(world, p.req('UserName'));
  const { page, more } = paginate(p, [...user.inlinePolicies.keys()], (n) => n);
  return { PolicyNames: page, ...more };
};

// Group policies: what a user in the group gets, and what Vault folds into STS session policies.

const PutGroupPolicy: QueryHandler = (p, { world }) => {
  const group = namedGroup(world, p.req('GroupName'));
  const name = checkName(p.req('PolicyName'), 'policyName', 128);
  const doc = p.req('PolicyDocument');
  checkPolicyDocument(doc);
  const others = [...group.inlinePolicies].filter(([n]) => n !== name).reduce((sum, [, d]) => sum + nonWhitespaceLength(d), 0);
  if (others + nonWhitespaceLength(doc) > INLINE_GROUP_POLICY_MAX) {
    throw limitExceeded(`Maximum policy size of ${INLINE_GROUP_POLICY_MAX} bytes exceeded for group ${group.name}`);
  }
  group.inlinePolicies.set(name, doc);
  return undefined;
};

const GetGroupPolicy: QueryHandler = (p, { world }) => {
  const group = namedGroup(world, p.req('GroupName'));
  const name = p.req('PolicyName');
  const doc = group.inlinePolicies.get(name);
  if (doc === undefined) throw noSuchEntity(`The group policy with name ${name} cannot be found.`);
  return { GroupName: group.name, PolicyName: name, PolicyDocument: encodeURIComponent(doc) };
};

const DeleteGroupPolicy: QueryHandler = (p, { world }) => {
  const group = namedGroup(world, p.req('GroupName'));
  const name = p.req('PolicyName');
  if (!group.inlinePolicies.delete(name)) throw noSuchEntity(`The group policy with name ${name} cannot be found.`);
  return undefined;
};

const ListGroupPolicies: QueryHandler = (p, { world }) => {
  const group = namedGroup(world, p.req('GroupName'));
  const { page, more } = paginate(p, [...group.inlinePolicies.keys()], (n) => n);
  return { PolicyNames: page, ...more };
};

const AttachGroupPolicy: QueryHandler = (p, { world }) => {
  const group = namedGroup(world, p.req('GroupName'));
  const arn = p.req('PolicyArn');
  if (!world.policyExists(arn)) throw noSuchEntity(`Policy ${arn} does not exist or is not attachable.`);
  if (group.attachedPolicies.includes(arn)) return undefined;
  if (group.attachedPolicies.length >= MANAGED_POLICIES_PER_GROUP) throw limitExceeded(`Cannot exceed quota for PoliciesPerGroup: ${MANAGED_POLICIES_PER_GROUP}`);
  group.attachedPolicies.push(arn);
  return undefined;
};

const DetachGroupPolicy: QueryHandler = (p, { world }) => {
  const group = namedGroup(world, p.req('GroupName'));
  const arn = p.req('PolicyArn');
  if (!group.attachedPolicies.includes(arn)) throw noSuchEntity(`Policy ${arn} was not found.`);
  group.attachedPolicies = group.attachedPolicies.filter((a) => a !== arn);
  return undefined;
};

const ListAttachedGroupPolicies: QueryHandler = (p, { world }) => {
  const group = namedGroup(world, p.req('GroupName'));
  const { page, more } = paginate(p, group.attachedPolicies, (a) => a);
  return { AttachedPolicies: page.map((arn) => ({ PolicyName: policyName(arn), PolicyArn: arn })), ...more };
};

const AttachUserPolicy: QueryHandler = (p, { world }) => {
  const user = namedUser(world, p.req('UserName'));
  const arn = p.req('PolicyArn');
  if (!world.policyExists(arn)) throw noSuchEntity(`Policy ${arn} does not exist or is not attachable.`);
  if (user.attachedPolicies.includes(arn)) return undefined;
  if (user.attachedPolicies.length >= MANAGED_POLICIES_PER_USER) {
    throw limitExceeded(`Cannot exceed quota for PoliciesPerUser: ${MANAGED_POLICIES_PER_USER}`);
  }
  user.attachedPolicies.push(arn);
  return undefined;
};

const DetachUserPolicy: QueryHandler = (p, { world }) => {
  const user = namedUser(world, p.req('UserName'));
  const arn = p.req('PolicyArn');
  if (!user.attachedPolicies.includes(arn)) throw noSuchEntity(`Policy ${arn} was not found.`);
  user.attachedPolicies = user.attachedPolicies.filter((a) => a !== arn);
  return undefined;
};

const ListAttachedUserPolicies: QueryHandler = (p, { world }) => {
  const user = namedUser(world, p.req('UserName'));
  const prefix = p.opt('PathPrefix') ?? '/';
  const arns = user.attachedPolicies.filter((arn) => {
    const path = arn.slice(arn.indexOf(':policy') + ':policy'.length, arn.lastIndexOf('/') + 1);
    return path.startsWith(prefix);
  });
  const { page, more } = paginate(p, arns, (a) => a);
  return { AttachedPolicies: page.map((arn) => ({ PolicyName: policyName(arn), PolicyArn: arn })), ...more };
};

const CreatePolicy: QueryHandler = (p, { world }) => {
  const name = checkName(p.req('PolicyName'), 'policyName', 128);
  const path = checkPath(p);
  const doc = p.req('PolicyDocument');
  checkPolicyDocument(doc);
  if (nonWhitespaceLength(doc) > MANAGED_POLICY_MAX) throw limitExceeded(`Cannot exceed quota for PolicySize: ${MANAGED_POLICY_MAX}`);
  if ([...world.policies.values()].some((x) => x.name.toLowerCase() === name.toLowerCase())) {
    throw alreadyExists(`A policy called ${name} already exists. Duplicate names are not allowed.`);
  }
  const policy = world.addPolicy(name, doc, path, p.opt('Description'));
  return { Policy: policyXml(world, policy) };
};

function managedPolicy(world: World, arn: string): ManagedPolicy {
  const policy = world.policies.get(arn);
  if (!policy) throw noSuchEntity(`Policy ${arn} was not found.`);
  return policy;
}

const GetPolicy: QueryHandler = (p, { world }) => ({ Policy: policyXml(world, managedPolicy(world, p.req('PolicyArn'))) });

const DeletePolicy: QueryHandler = (p, { world }) => {
  const policy = managedPolicy(world, p.req('PolicyArn'));
  if (world.attachmentCount(policy.arn) > 0) throw deleteConflict('Cannot delete a policy attached to entities.');
  world.policies.delete(policy.arn);
  return undefined;
};

const ListPolicies: QueryHandler = (p, { world }) => {
  const prefix = p.opt('PathPrefix') ?? '/';
  const attached = p.bool('OnlyAttached') ?? false;
  const policies = [...world.policies.values()].filter((x) => x.path.startsWith(prefix) && (!attached || world.attachmentCount(x.arn) > 0));
  const { page, more } = paginate(p, policies, (x) => x.name.toLowerCase());
  return { Policies: page.map((x) => policyXml(world, x)), ...more };
};

// ---- groups ------------------------------------------------------------------------------

const CreateGroup: QueryHandler = (p, { world }) => {
  const name = checkName(p.req('GroupName'), 'groupName', 128);
  const path = checkPath(p);
  if (world.group(name)) throw alreadyExists(`Group with name ${name} already exists.`);
  return { Group: groupXml(world.addGroup(name, path)) };
};

const GetGroup: QueryHandler = (p, { world }) => {
  const group = namedGroup(world, p.req('GroupName'));
  const { page, more } = paginate(p, world.membersOf(group), (u) => u.name.toLowerCase());
  return { Group: groupXml(group), Users: page.map((u) => userXml(u)), ...more };
};

const DeleteGroup: QueryHandler = (p, { world }) => {
  const group = namedGroup(world, p.req('GroupName'));
  if (world.membersOf(group).length > 0) throw deleteConflict('Cannot delete entity, must remove users from group first.');
  if (group.inlinePolicies.size > 0 || group.attachedPolicies.length > 0) throw deleteConflict('Cannot delete entity, must delete policies first.');
  world.groups.delete(group.name.toLowerCase());
  return undefined;
};

const ListGroups: QueryHandler = (p, { world }) => {
  const prefix = p.opt('PathPrefix') ?? '/';
  const groups = [...world.groups.values()].filter((g) => g.path.startsWith(prefix));
  const { page, more } = paginate(p, groups, (g) => g.name.toLowerCase());
  return { Groups: page.map(groupXml), ...more };
};

const AddUserToGroup: QueryHandler = (p, { world }) => {
  const group = namedGroup(world, p.req('GroupName'));
  const user = namedUser(world, p.req('UserName'));
  const key = group.name.toLowerCase();
  if (user.groups.has(key)) return undefined;
  if (user.groups.size >= GROUPS_PER_USER) throw limitExceeded(`Cannot exceed quota for GroupsPerUser: ${GROUPS_PER_USER}`);
  user.groups.add(key);
  return undefined;
};

const RemoveUserFromGroup: QueryHandler = (p, { world }) => {
  const group = namedGroup(world, p.req('GroupName'));
  const user = namedUser(world, p.req('UserName'));
  user.groups.delete(group.name.toLowerCase());
  return undefined;
};

const ListGroupsForUser: QueryHandler = (p, { world }) => {
  const user = namedUser(world, p.req('UserName'));
  const groups = [...user.groups].map((k) => world.groups.get(k)).filter((g): g is Group => g !== undefined);
  const { page, more } = paginate(p, groups, (g) => g.name.toLowerCase());
  return { Groups: page.map(groupXml), ...more };
};

// ---- access keys -------------------------------------------------------------------------

const CreateAccessKey: QueryHandler = (p, ctx) => {
  const user = targetUser(p, ctx);
  if (user.accessKeys.length >= ACCESS_KEYS_PER_USER) {
    throw limitExceeded(`Cannot exceed quota for AccessKeysPerUser: ${ACCESS_KEYS_PER_USER}`);
  }
  const key = ctx.world.addAccessKey(user);
  return { AccessKey: { ...keyMetaXml(key), SecretAccessKey: key.secretAccessKey } };
};

const DeleteAccessKey: QueryHandler = (p, ctx) => {
  const user = targetUser(p, ctx);
  const key = userKey(ctx.world, user, p.req('AccessKeyId'));
  ctx.world.removeAccessKey(user, key.accessKeyId);
  return undefined;
};

const UpdateAccessKey: QueryHandler = (p, ctx) => {
  const user = targetUser(p, ctx);
  const key = userKey(ctx.world, user, p.req('AccessKeyId'));
  key.status = checkStatus(p);
  return undefined;
};

const ListAccessKeys: QueryHandler = (p, ctx) => {
  const user = targetUser(p, ctx);
  const keys = user.accessKeys.map((id) => ctx.world.accessKeys.get(id)).filter((k): k is AccessKey => k !== undefined);
  const { page, more } = paginate(p, keys, (k) => `${String(k.createDate).padStart(16, '0')}:${k.accessKeyId}`);
  return { AccessKeyMetadata: page.map(keyMetaXml), ...more };
};

const GetAccessKeyLastUsed: QueryHandler = (p, { world }) => {
  const id = p.req('AccessKeyId');
  const key = world.accessKeys.get(id);
  if (!key) throw noSuchEntity(`The Access Key with id ${id} cannot be found.`);
  const used = key.lastUsed;
  return {
    UserName: key.userName,
    AccessKeyLastUsed: used
      ? { LastUsedDate: date(used.date), ServiceName: used.service, Region: used.region }
      : { ServiceName: 'N/A', Region: 'N/A' },
  };
};

// ---- roles -------------------------------------------------------------------------------

function checkMaxSessionDuration(p: QueryParams): number | undefined {
  const max = p.int('MaxSessionDuration');
  if (max !== undefined && (max < ROLE_SESSION_MIN || max > ROLE_SESSION_MAX)) {
    throw validation(`1 validation error detected: Value '${max}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value ${max < ROLE_SESSION_MIN ? `greater than or equal to ${ROLE_SESSION_MIN}` : `less than or equal to ${ROLE_SESSION_MAX}`}`);
  }
  return max;
}

const CreateRole: QueryHandler = (p, { world }) => {
  const name = checkName(p.req('RoleName'), 'roleName', ROLE_NAME_MAX);
  const path = checkPath(p);
  const trust = p.req('AssumeRolePolicyDocument');
  checkPolicyDocument(trust);
  const max = checkMaxSessionDuration(p);
  if (world.role(name)) throw alreadyExists(`Role with name ${name} already exists.`);
  const boundary = p.opt('PermissionsBoundary');
  if (boundary !== undefined && !world.policyExists(boundary)) throw noSuchEntity(`Policy ${boundary} does not exist or is not attachable.`);
  const description = p.opt('Description');
  const role = world.addRole(name, {
    path,
    assumeRolePolicyDocument: trust,
    tags: checkTags(p.tags()),
    ...(max !== undefined ? { maxSessionDuration: max } : {}),
    ...(description !== undefined ? { description } : {}),
    ...(boundary !== undefined ? { permissionsBoundary: boundary } : {}),
  });
  return { Role: roleXml(role, true) };
};

const GetRole: QueryHandler = (p, { world }) => ({ Role: roleXml(namedRole(world, p.req('RoleName')), true) });

const UpdateRole: QueryHandler = (p, { world }) => {
  const role = namedRole(world, p.req('RoleName'));
  const max = checkMaxSessionDuration(p);
  if (max !== undefined) role.maxSessionDuration = max;
  const description = p.opt('Description');
  if (description !== undefined) role.description = description;
  return {};
};

const DeleteRole: QueryHandler = (p, { world }) => {
  const role = namedRole(world, p.req('RoleName'));
  if (role.inlinePolicies.size > 0) throw deleteConflict('Cannot delete entity, must delete policies first.');
  world.roles.delete(`${role.accountId}:${role.name.toLowerCase()}`);
  return undefined;
};

const ListRoles: QueryHandler = (p, { world }) => {
  const prefix = p.opt('PathPrefix') ?? '/';
  const roles = [...world.roles.values()].filter((r) => r.accountId === world.accountId && r.path.startsWith(prefix));
  const { page, more } = paginate(p, roles, (r) => r.name.toLowerCase());
  return { Roles: page.map((r) => roleXml(r)), ...more };
};

// ---- inline policies on roles -------------------------------------------------------------

const PutRolePolicy: QueryHandler = (p, { world }) => {
  const role = namedRole(world, p.req('RoleName'));
  const name = checkName(p.req('PolicyName'), 'policyName', 128);
  const doc = p.req('PolicyDocument');
  checkPolicyDocument(doc);
  const others = [...role.inlinePolicies].filter(([n]) => n !== name).reduce((sum, [, d]) => sum + nonWhitespaceLength(d), 0);
  if (others + nonWhitespaceLength(doc) > INLINE_ROLE_POLICY_MAX) {
    throw limitExceeded(`Maximum policy size of ${INLINE_ROLE_POLICY_MAX} bytes exceeded for role ${role.name}`);
  }
  role.inlinePolicies.set(name, doc);
  return undefined;
};

function rolePolicy(role: Role, name: string): string {
  const doc = role.inlinePolicies.get(name);
  if (doc === undefined) throw noSuchEntity(`The role policy with name ${name} cannot be found.`);
  return doc;
}

const GetRolePolicy: QueryHandler = (p, { world }) => {
  const role = namedRole(world, p.req('RoleName'));
  const name = p.req('PolicyName');
  return { RoleName: role.name, PolicyName: name, PolicyDocument: encodeURIComponent(rolePolicy(role, name)) };
};

const DeleteRolePolicy: QueryHandler = (p, { world }) => {
  const role = namedRole(world, p.req('RoleName'));
  const name = p.req('PolicyName');
  rolePolicy(role, name);
  role.inlinePolicies.delete(name);
  return undefined;
};

const ListRolePolicies: QueryHandler = (p, { world }) => {
  const role = namedRole(world, p.req('RoleName'));
  const { page, more } = paginate(p, [...role.inlinePolicies.keys()], (n) => n);
  return { PolicyNames: page, ...more };
};

// ---- what a person adds to a user out of band: login profile, MFA, SSH keys, certificates ---

const CreateLoginProfile: QueryHandler = (p, { world }) => {
  const user = namedUser(world, p.req('UserName'));
  p.req('Password');
  if (user.loginProfile) throw alreadyExists(`Login Profile for user ${user.name} already exists.`);
  user.loginProfile = { createDate: world.now(), passwordResetRequired: p.bool('PasswordResetRequired') ?? false };
  return { LoginProfile: { UserName: user.name, CreateDate: date(user.loginProfile.createDate), PasswordResetRequired: user.loginProfile.passwordResetRequired } };
};

function loginProfileOf(user: User): NonNullable<User['loginProfile']> {
  if (!user.loginProfile) throw noSuchEntity(`Login Profile for User ${user.name} cannot be found.`);
  return user.loginProfile;
}

const GetLoginProfile: QueryHandler = (p, { world }) => {
  const user = namedUser(world, p.req('UserName'));
  const profile = loginProfileOf(user);
  return { LoginProfile: { UserName: user.name, CreateDate: date(profile.createDate), PasswordResetRequired: profile.passwordResetRequired } };
};

const DeleteLoginProfile: QueryHandler = (p, { world }) => {
  const user = namedUser(world, p.req('UserName'));
  loginProfileOf(user);
  delete user.loginProfile;
  return undefined;
};

const CreateVirtualMFADevice: QueryHandler = (p, { world }) => {
  const name = checkName(p.req('VirtualMFADeviceName'), 'virtualMFADeviceName', 226);
  const path = checkPath(p);
  const serialNumber = world.iamArn('mfa', path, name);
  if (world.mfaDevices.has(serialNumber)) throw alreadyExists(`MFADevice entity at the same path and name already exists.`);
  const device = { serialNumber, seed: Buffer.from(world.newSecret(32)).toString('base64'), createDate: world.now() };
  world.mfaDevices.set(serialNumber, device);
  return { VirtualMFADevice: { SerialNumber: serialNumber, Base32StringSeed: device.seed, QRCodePNG: Buffer.from('png').toString('base64') } };
};

function mfaDevice(world: World, serial: string): NonNullable<ReturnType<World['mfaDevices']['get']>> {
  const device = world.mfaDevices.get(serial);
  if (!device) throw noSuchEntity(`MFA Device with serial number ${serial} does not exist.`);
  return device;
}

const DeleteVirtualMFADevice: QueryHandler = (p, { world }) => {
  const device = mfaDevice(world, p.req('SerialNumber'));
  if (device.userName !== undefined) throw deleteConflict('MFA Device is still in use.');
  world.mfaDevices.delete(device.serialNumber);
  return undefined;
};

const EnableMFADevice: QueryHandler = (p, { world }) => {
  const user = namedUser(world, p.req('UserName'));
  const device = mfaDevice(world, p.req('SerialNumber'));
  for (const code of [p.req('AuthenticationCode1'), p.req('AuthenticationCode2')]) {
    if (!/^\d{6}$/.test(code)) throw new AwsError('InvalidAuthenticationCode', 'Authentication code for device is not valid.', 403);
  }
  if (device.userName !== undefined) throw alreadyExists('MFA Device is already in use.');
  device.userName = user.name;
  user.mfaDevices.push({ serialNumber: device.serialNumber, enableDate: world.now() });
  return undefined;
};

const DeactivateMFADevice: QueryHandler = (p, { world }) => {
  const user = namedUser(world, p.req('UserName'));
  const serial = p.req('SerialNumber');
  if (!user.mfaDevices.some((d) => d.serialNumber === serial)) throw noSuchEntity(`MFA Device with serial number ${serial} does not exist.`);
  user.mfaDevices = user.mfaDevices.filter((d) => d.serialNumber !== serial);
  const device = world.mfaDevices.get(serial);
  if (device) delete device.userName;
  return undefined;
};

const ListMFADevices: QueryHandler = (p, ctx) => {
  const user = targetUser(p, ctx);
  const { page, more } = paginate(p, user.mfaDevices, (d) => d.serialNumber);
  return { MFADevices: page.map((d) => ({ UserName: user.name, SerialNumber: d.serialNumber, EnableDate: date(d.enableDate) })), ...more };
};

const UploadSSHPublicKey: QueryHandler = (p, { world }) => {
  const user = namedUser(world, p.req('UserName'));
  const body = p.req('SSHPublicKeyBody');
  if (!/^(ssh-rsa|ssh-ed25519|ecdsa-sha2-\S+) \S+/.test(body) && !body.startsWith('-----BEGIN')) {
    throw new AwsError('InvalidPublicKey', 'The public key is malformed or otherwise invalid.', 400);
  }
  if (user.sshKeys.size >= SSH_KEYS_PER_USER) throw limitExceeded(`Cannot exceed quota for PublicKeysPerUser: ${SSH_KEYS_PER_USER}`);
  const key = { id: world.newId('APKA'), body, status: 'Active' as const, uploadDate: world.now() };
  user.sshKeys.set(key.id, key);
  return {
    SSHPublicKey: { UserName: user.name, SSHPublicKeyId: key.id, Fingerprint: world.newHex(32).replace(/(..)(?!$)/g, '$1:'), SSHPublicKeyBody: body, Status: key.status, UploadDate: date(key.uploadDate) },
  };
};

const DeleteSSHPublicKey: QueryHandler = (p, { world }) => {
  const user = namedUser(world, p.req('UserName'));
  const id = p.req('SSHPublicKeyId');
  if (!user.sshKeys.delete(id)) throw noSuchEntity(`The Public Key with id ${id} cannot be found.`);
  return undefined;
};

const ListSSHPublicKeys: QueryHandler = (p, ctx) => {
  const user = targetUser(p, ctx);
  const { page, more } = paginate(p, [...user.sshKeys.values()], (k) => k.id);
  return { SSHPublicKeys: page.map((k) => ({ UserName: user.name, SSHPublicKeyId: k.id, Status: k.status, UploadDate: date(k.uploadDate) })), ...more };
};

const UploadSigningCertificate: QueryHandler = (p, ctx) => {
  const user = targetUser(p, ctx);
  const body = p.req('CertificateBody');
  if (!body.includes('-----BEGIN CERTIFICATE-----')) throw new AwsError('MalformedCertificate', 'Unable to parse certificate. Please ensure the certificate is in PEM format.', 400);
  if (user.signingCerts.size >= SIGNING_CERTS_PER_USER) throw limitExceeded(`Cannot exceed quota for SigningCertificatesPerUser: ${SIGNING_CERTS_PER_USER}`);
  const cert = { id: ctx.world.newId('', 32), body, status: 'Active' as const, uploadDate: ctx.world.now() };
  user.signingCerts.set(cert.id, cert);
  return { Certificate: { UserName: user.name, CertificateId: cert.id, CertificateBody: body, Status: cert.status, UploadDate: date(cert.uploadDate) } };
};

const DeleteSigningCertificate: QueryHandler = (p, ctx) => {
  const user = targetUser(p, ctx);
  const id = p.req('CertificateId');
  if (!user.signingCerts.delete(id)) throw noSuchEntity(`The Certificate with id ${id} cannot be found.`);
  return undefined;
};

const ListSigningCertificates: QueryHandler = (p, ctx) => {
  const user = targetUser(p, ctx);
  const { page, more } = paginate(p, [...user.signingCerts.values()], (c) => c.id);
  return {
    Certificates: page.map((c) => ({ UserName: user.name, CertificateId: c.id, CertificateBody: c.body, Status: c.status, UploadDate: date(c.uploadDate) })),
    ...more,
  };
};

export const iamActions: Record<string, QueryHandler> = {
  CreateUser,
  GetUser,
  UpdateUser,
  DeleteUser,
  ListUsers,
  TagUser,
  UntagUser,
  ListUserTags,
  PutUserPolicy,
  GetUserPolicy,
  DeleteUserPolicy,
  ListUserPolicies,
  AttachUserPolicy,
  DetachUserPolicy,
  ListAttachedUserPolicies,
  PutGroupPolicy,
  GetGroupPolicy,
  DeleteGroupPolicy,
  ListGroupPolicies,
  AttachGroupPolicy,
  DetachGroupPolicy,
  ListAttachedGroupPolicies,
  CreatePolicy,
  GetPolicy,
  DeletePolicy,
  ListPolicies,
  CreateGroup,
  GetGroup,
  DeleteGroup,
  ListGroups,
  AddUserToGroup,
  RemoveUserFromGroup,
  ListGroupsForUser,
  CreateAccessKey,
  DeleteAccessKey,
  UpdateAccessKey,
  ListAccessKeys,
  GetAccessKeyLastUsed,
  CreateRole,
  GetRole,
  UpdateRole,
  DeleteRole,
  ListRoles,
  PutRolePolicy,
  GetRolePolicy,
  DeleteRolePolicy,
  ListRolePolicies,
  CreateLoginProfile,
  GetLoginProfile,
  DeleteLoginProfile,
  CreateVirtualMFADevice,
  DeleteVirtualMFADevice,
  EnableMFADevice,
  DeactivateMFADevice,
  ListMFADevices,
  UploadSSHPublicKey,
  DeleteSSHPublicKey,
  ListSSHPublicKeys,
  UploadSigningCertificate,
  DeleteSigningCertificate,
  ListSigningCertificates,
};
