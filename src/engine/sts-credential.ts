import { GetGroupPolicyCommand, ListAttachedGroupPoliciesCommand, ListGroupPoliciesCommand } from '@aws-sdk/client-iam';
import type { Credentials } from '@aws-sdk/client-sts';
import { STS_MFA_SERIAL_MAX, STS_MFA_SERIAL_MIN, STS_POLICY_ARNS_MAX, STS_SESSION_POLICY_MAX_CHARS } from '../limits.js';
import { UserError } from '../errors.js';
import type { CredentialType, Lease, LeaseResources, PolicyDocument, RoleSpec } from '../model/types.js';
import { awsCall } from './aws-errors.js';
import { checkLength, checkTypeLimits, limitError, policyChars } from './checks.js';
import type { CredentialKind, IssueContext, Issued, IssueRequest } from './credential-type.js';
import { stsTtl } from './ttl.js';

/**
 * What the three STS kinds are alike in: a temporary credential, read at
 * aws/sts/ROLE, that AWS accepts as soon as it is issued and that creates no
 * IAM user.
 */
export const STS_KIND = { renewable: false, defaultPath: 'sts', verifyBeforeUse: false, createsIamUsers: false } as const satisfies Partial<CredentialKind>;

/** The TTL of an STS request (stsTtl), within what AWS accepts for the type and what the role allows. */
export function stsRequestTtl(ctx: IssueContext, type: CredentialType): number {
  const ttl = stsTtl(ctx.request.ttl, ctx.role);
  checkTypeLimits(ctx.role, type, ttl);
  return ttl;
}

/**
 * What the three STS kinds share: the lease of a temporary credential. It is
 * not renewable, lasts exactly as long as AWS says the credential does, and
 * needs no journal entry: STS creates nothing in AWS that outlives the
 * credential, so a crash between the call and the lease leaves no orphan.
 */
export function stsIssued(
  ctx: IssueContext,
  type: CredentialType,
  credentials: Credentials | undefined,
  principalArn: string | undefined,
  revocation: Pick<LeaseResources, 'roleArn' | 'sessionUserId' | 'issuedAtAws'> = {},
): Issued {
  const { AccessKeyId, SecretAccessKey, SessionToken, Expiration } = credentials ?? {};
  if (!AccessKeyId || !SecretAccessKey || !SessionToken || !Expiration) {
    throw new Error(`STS returned an incomplete credential for ${ctx.mount.name}/roles/${ctx.role.name}`);
  }
  const now = ctx.clock.now();
  const lease: Lease = {
    leaseId: ctx.leaseId,
    mount: ctx.mount.name,
    role: ctx.role.name,
    credentialType: type,
    path: ctx.request.path,
    issuedAt: now,
    expiresAt: Expiration.getTime(),
    maxExpiresAt: Expiration.getTime(),
    renewable: false,
    resources: { accessKeyId: AccessKeyId, ...(principalArn ? { principalArn } : {}), ...definedOnly(revocation) },
    ...(ctx.request.sink ? { sink: ctx.request.sink } : {}),
  };
  return { credential: { lease, accessKeyId: AccessKeyId, secretAccessKey: SecretAccessKey, sessionToken: SessionToken, expiration: Expiration } };
}

/** What a revocation needs to deny the session (sts-revoke.ts), without the keys AWS left out. Never a secret. */
function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** SerialNumber and TokenCode for a role with mfa_serial_number; nothing otherwise. */
export function mfaParams(role: RoleSpec, request: IssueRequest): { SerialNumber?: string; TokenCode?: string } {
  if (!role.mfa_serial_number) return {};
  checkLength(role, 'mfa_serial_number', role.mfa_serial_number, STS_MFA_SERIAL_MIN, STS_MFA_SERIAL_MAX);
  if (!request.mfaCode) {
    throw new UserError(`${role.mount}/roles/${role.name} requires an MFA code (mfa_serial_number is ${role.mfa_serial_number}): pass --mfa-code`);
  }
  if (!/^\d{6}$/.test(request.mfaCode)) throw new UserError('the MFA code must be the 6 digits the device shows');
  return { SerialNumber: role.mfa_serial_number, TokenCode: request.mfaCode };
}

export interface SessionPolicy {
  Policy?: string;
  PolicyArns?: { arn: string }[];
}

/** A session policy as STS takes it, from the role alone. */
export function sessionPolicy(role: RoleSpec): SessionPolicy {
  return {
    ...(role.policy_document ? { Policy: JSON.stringify(role.policy_document) } : {}),
    ...(role.policy_arns.length ? { PolicyArns: role.policy_arns.map((arn) => ({ arn })) } : {}),
  };
}

/**
 * The session policy of an assumed_role or federation_token credential, with
 * the role's iam_groups folded in as Vault does (iam_policies.go
 * getGroupPolicies, combinePolicyDocuments): the statements of every group's
 * inline policies, then the role's own, in one policy document; the groups'
 * managed policies after the role's policy_arns. AWS's limits on the result
 * are checked before the call, naming the groups.
 */
export async function sessionPolicyOf(ctx: Pick<IssueContext, 'role' | 'mount' | 'clients'>): Promise<SessionPolicy> {
  const { role, mount } = ctx;
  if (role.iam_groups.length === 0) return sessionPolicy(role);
  const iam = ctx.clients.iam(mount);
  const inline: PolicyDocument[] = [];
  const arns: string[] = [];
  const where = { mount: mount.name, role: role.name };
  for (const GroupName of role.iam_groups) {
    let Marker: string | undefined;
    do {
      const page = await awsCall({ ...where, operation: 'ListAttachedGroupPolicies' }, () => iam.send(new ListAttachedGroupPoliciesCommand({ GroupName, Marker })));
      arns.push(...(page.AttachedPolicies ?? []).flatMap((p) => (p.PolicyArn ? [p.PolicyArn] : [])));
      Marker = page.IsTruncated ? page.Marker : undefined;
    } while (Marker);
    const names: string[] = [];
    do {
      const page = await awsCall({ ...where, operation: 'ListGroupPolicies' }, () => iam.send(new ListGroupPoliciesCommand({ GroupName, Marker })));
      names.push(...(page.PolicyNames ?? []));
      Marker = page.IsTruncated ? page.Marker : undefined;
    } while (Marker);
    for (const PolicyName of names) {
      const out = await awsCall({ ...where, operation: 'GetGroupPolicy' }, () => iam.send(new GetGroupPolicyCommand({ GroupName, PolicyName })));
      if (out.PolicyDocument) inline.push(JSON.parse(decodeURIComponent(out.PolicyDocument)) as PolicyDocument);
    }
  }
  const groups = role.iam_groups.join(', ');
  const statements = [...inline, ...(role.policy_document ? [role.policy_document] : [])].flatMap((doc) => [doc.Statement].flat());
  const policy = inline.length > 0 ? { Version: '2012-10-17', Statement: statements } : role.policy_document;
  const policyArns = [...role.policy_arns, ...arns];
  if (policy) {
    const chars = policyChars(policy);
    if (chars > STS_SESSION_POLICY_MAX_CHARS) {
      throw limitError(role, `the session policy with the inline policies of iam_groups ${groups} is ${chars} characters (whitespace not counted); AWS STS takes at most ${STS_SESSION_POLICY_MAX_CHARS}`);
    }
  }
  if (policyArns.length > STS_POLICY_ARNS_MAX) {
    throw limitError(role, `policy_arns and the managed policies of iam_groups ${groups} make ${policyArns.length} policy ARNs; AWS STS takes at most ${STS_POLICY_ARNS_MAX}`);
  }
  return {
    ...(policy ? { Policy: JSON.stringify(policy) } : {}),
    ...(policyArns.length ? { PolicyArns: policyArns.map((arn) => ({ arn })) } : {}),
  };
}
