import {
  AddUserToGroupCommand,
  AttachUserPolicyCommand,
  DetachUserPolicyCommand,
  GetUserCommand,
  GetUserPolicyCommand,
  paginateListAccessKeys,
  paginateListAttachedUserPolicies,
  paginateListGroupsForUser,
  PutUserPolicyCommand,
  RemoveUserFromGroupCommand,
  type IAMClient,
} from '@aws-sdk/client-iam';
import type { DriftItem, DriftKind, Lease, PolicyDocument, RoleSpec } from '../model/types.js';
import { canonicalJson, normalisePolicy } from '../plan/normalise.js';
import { awsCall, isNoSuchEntity } from './aws-errors.js';

/**
 * Drift of an iam_user lease (Terraform's refresh), read-only: its user
 * exists, its access key exists and is Active, its inline policy is its role's
 * policy_document, and its managed policies and groups are exactly those the
 * lease recorded. And the repair: put the user back as recorded.
 */

/** One change that brings a user back to what its lease recorded. */
export type RestoreStep =
  | { op: 'put-inline'; policyName: string; document: string }
  | { op: 'attach'; policyArn: string }
  | { op: 'detach'; policyArn: string }
  | { op: 'add-group'; group: string }
  | { op: 'remove-group'; group: string };

export interface LeaseDrift {
  lease: Lease;
  items: DriftItem[];
  /**
   * A user or key deleted or deactivated: the credential is dead, so the lease
   * is revoked (what remains is deleted) and its sink, if any, issued afresh.
   * Permissions changed: the user is put back as recorded, the key kept.
   * A sink's target taken over by another credops state: the lease (no longer
   * published) is revoked and the sink takes its target back with a new one.
   */
  repair: { action: 'revoke' } | { action: 'restore'; steps: RestoreStep[] } | { action: 'take-back'; sink: string };
}

export async function checkIamUserDrift(iam: IAMClient, lease: Lease, role: RoleSpec | undefined, expected: PolicyDocument | undefined): Promise<LeaseDrift | undefined> {
  const { resources } = lease;
  if (!resources.userName) return undefined;
  const UserName = resources.userName;
  const item = (kind: DriftKind, detail: string): DriftItem => ({ leaseId: lease.leaseId, ...(lease.sink ? { sink: lease.sink } : {}), kind, detail });
  const call = <T>(operation: string, run: () => Promise<T>) => awsCall({ mount: lease.mount, role: lease.role, operation }, run);
  const list = async <P>(operation: string, pages: AsyncIterable<P>, each: (page: P) => void) =>
    call(operation, async () => {
      for await (const page of pages) each(page);
    });
  const revoke = (kind: DriftKind, detail: string): LeaseDrift => ({ lease, items: [item(kind, detail)], repair: { action: 'revoke' } });
  const userGone = () => revoke('user_deleted', `IAM user ${UserName} no longer exists`);

  try {
    await call('GetUser', () => iam.send(new GetUserCommand({ UserName })));

    if (resources.accessKeyId) {
      let status: string | undefined;
      await list('ListAccessKeys', paginateListAccessKeys({ client: iam }, { UserName }), (page) => {
        for (const key of page.AccessKeyMetadata ?? []) if (key.AccessKeyId === resources.accessKeyId) status = key.Status ?? 'Active';
      });
      if (status === undefined) return revoke('key_deleted', `access key ${resources.accessKeyId} of IAM user ${UserName} no longer exists`);
      if (status !== 'Active') return revoke('key_inactive', `access key ${resources.accessKeyId} of IAM user ${UserName} is ${status}`);
    }

    const items: DriftItem[] = [];
    const steps: RestoreStep[] = [];
    const PolicyName = resources.inlinePolicyName;
    if (PolicyName && role?.policy_document) {
      const restore: RestoreStep = { op: 'put-inline', policyName: PolicyName, document: JSON.stringify(role.policy_document) };
      try {
        const out = await call('GetUserPolicy', () => iam.send(new GetUserPolicyCommand({ UserName, PolicyName })));
        if (expected && !samePolicy(out.PolicyDocument, expected)) {
          items.push(item('policy_changed', `inline policy ${PolicyName} of IAM user ${UserName} differs from ${role.mount}/roles/${role.name}'s policy_document`));
          steps.push(restore);
        }
      } catch (err) {
        if (!isNoSuchEntity(err)) throw err;
        await call('GetUser', () => iam.send(new GetUserCommand({ UserName }))); // the policy is gone, or the whole user?
        items.push(item('policy_changed', `inline policy ${PolicyName} of IAM user ${UserName} was deleted`));
        steps.push(restore);
      }
    }

    const attached = new Set<string>();
    await list('ListAttachedUserPolicies', paginateListAttachedUserPolicies({ client: iam }, { UserName }), (page) => {
      for (const p of page.AttachedPolicies ?? []) if (p.PolicyArn) attached.add(p.PolicyArn);
    });
    const recordedArns = new Set(resources.attachedPolicyArns ?? []);
    for (const policyArn of recordedArns) {
      if (attached.has(policyArn)) continue;
      items.push(item('policy_detached', `managed policy ${policyArn} was detached from IAM user ${UserName}`));
      steps.push({ op: 'attach', policyArn });
    }
    for (const policyArn of attached) {
      if (recordedArns.has(policyArn)) continue;
      items.push(item('policy_changed', `managed policy ${policyArn} was attached to IAM user ${UserName} outside credops`));
      steps.push({ op: 'detach', policyArn });
    }

    const groups = new Set<string>();
    await list('ListGroupsForUser', paginateListGroupsForUser({ client: iam }, { UserName }), (page) => {
      for (const g of page.Groups ?? []) if (g.GroupName) groups.add(g.GroupName);
    });
    const recordedGroups = new Set(resources.groups ?? []);
    for (const group of recordedGroups) {
      if (groups.has(group)) continue;
      items.push(item('group_removed', `IAM user ${UserName} was removed from group ${group}`));
      steps.push({ op: 'add-group', group });
    }
    for (const group of groups) {
      if (recordedGroups.has(group)) continue;
      items.push(item('policy_changed', `IAM user ${UserName} was added to group ${group} outside credops`));
      steps.push({ op: 'remove-group', group });
    }
    return items.length ? { lease, items, repair: { action: 'restore', steps } } : undefined;
  } catch (err) {
    // Any read answering NoSuchEntity for the user means it went while we looked.
    if (isNoSuchEntity(err)) return userGone();
    throw err;
  }
}

/** IAM returns policy documents URL-encoded (RFC 3986); an AWS-compatible endpoint may not. */
function samePolicy(raw: string | undefined, expected: PolicyDocument): boolean {
  const live = parsePolicy(raw);
  return live !== undefined && canonicalJson(normalisePolicy(live)) === canonicalJson(normalisePolicy(expected));
}

function parsePolicy(raw: string | undefined): PolicyDocument | undefined {
  if (raw === undefined) return undefined;
  for (const text of [safeDecode(raw), raw]) {
    try {
      const doc = JSON.parse(text ?? '') as unknown;
      if (doc !== null && typeof doc === 'object' && 'Statement' in doc) return doc as PolicyDocument;
    } catch {
      // not this form
    }
  }
  return undefined;
}

function safeDecode(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

export async function restoreIamUser(iam: IAMClient, lease: Lease, steps: RestoreStep[]): Promise<void> {
  const UserName = lease.resources.userName!;
  const call = (operation: string, run: () => Promise<unknown>) => awsCall({ mount: lease.mount, role: lease.role, operation }, run);
  for (const step of steps) {
    switch (step.op) {
      case 'put-inline':
        await call('PutUserPolicy', () => iam.send(new PutUserPolicyCommand({ UserName, PolicyName: step.policyName, PolicyDocument: step.document })));
        break;
      case 'attach':
        await call('AttachUserPolicy', () => iam.send(new AttachUserPolicyCommand({ UserName, PolicyArn: step.policyArn })));
        break;
      case 'detach':
        await call('DetachUserPolicy', () => iam.send(new DetachUserPolicyCommand({ UserName, PolicyArn: step.policyArn })));
        break;
      case 'add-group':
        await call('AddUserToGroup', () => iam.send(new AddUserToGroupCommand({ UserName, GroupName: step.group })));
        break;
      case 'remove-group':
        await call('RemoveUserFromGroup', () => iam.send(new RemoveUserFromGroupCommand({ UserName, GroupName: step.group })));
        break;
    }
  }
}

