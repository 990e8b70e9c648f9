import {
  DeactivateMFADeviceCommand,
  DeleteVirtualMFADeviceCommand,
  DeleteAccessKeyCommand,
  DeleteLoginProfileCommand,
  DeleteServiceSpecificCredentialCommand,
  DeleteSigningCertificateCommand,
  DeleteSSHPublicKeyCommand,
  DeleteUserCommand,
  DeleteUserPolicyCommand,
  DetachUserPolicyCommand,
  ListServiceSpecificCredentialsCommand,
  paginateListAccessKeys,
  paginateListAttachedUserPolicies,
  paginateListGroupsForUser,
  paginateListMFADevices,
  paginateListSigningCertificates,
  paginateListSSHPublicKeys,
  paginateListUserPolicies,
  RemoveUserFromGroupCommand,
  type IAMClient,
} from '@aws-sdk/client-iam';
import type { LeaseResources } from '../model/types.js';
import { UserError } from '../errors.js';
import { awsCall, awsErrorCode, isAwsError, isDeleteConflict, isNoSuchEntity, isUnsupportedAction } from './aws-errors.js';


const VIRTUAL_MFA_ARN = /^arn:aws[\w-]*:iam::\d{12}:mfa\//;
/** Who the revocation is for, to name in errors. */
export interface RevokeTarget {
  mount: string;
  role: string;
}

/**
 * A DeleteConflict right after removing everything listed means something was
 * attached meanwhile, or IAM's listing had not caught up with a just-created
 * key. A few more rounds, spaced out, let it settle before giving up.
 */
export const DELETE_CONFLICT_ROUNDS = 3;
export const DELETE_CONFLICT_WAIT_MS = 2_000;

/**
 * Revokes an iam_user credential in the safe order: access keys (the
 * credential stops working first), inline policies, managed policies, groups,
 * then the user. It removes what the lease recorded, without listing: drift
 * cannot block it and it costs no extra calls. NoSuchEntity at any step means
 * that part is already gone. Only when DeleteUser answers DeleteConflict
 * (something was added out of band: another key, a login profile, an MFA
 * device...) does it list the user's attachments from AWS and remove them.
 */
export async function revokeIamUser(
  iam: IAMClient,
  resources: LeaseResources,
  target: RevokeTarget,
  sleep: (ms: number) => Promise<void>,
): Promise<'deleted' | 'absent'> {
  const UserName = resources.userName;
  if (!UserName) return 'absent';
  const call = (operation: string, run: () => Promise<unknown>) => ignoreMissing(awsCall({ ...target, operation }, run));

  if (resources.accessKeyId) {
    const AccessKeyId = resources.accessKeyId;
    await call('DeleteAccessKey', () => iam.send(new DeleteAccessKeyCommand({ UserName, AccessKeyId })));
  }
  if (resources.inlinePolicyName) {
    const PolicyName = resources.inlinePolicyName;
    await call('DeleteUserPolicy', () => iam.send(new DeleteUserPolicyCommand({ UserName, PolicyName })));
  }
  for (const PolicyArn of resources.attachedPolicyArns ?? []) {
    await call('DetachUserPolicy', () => iam.send(new DetachUserPolicyCommand({ UserName, PolicyArn })));
  }
  for (const GroupName of resources.groups ?? []) {
    await call('RemoveUserFromGroup', () => iam.send(new RemoveUserFromGroupCommand({ UserName, GroupName })));
  }
  try {
    await awsCall({ ...target, operation: 'DeleteUser' }, () => iam.send(new DeleteUserCommand({ UserName })));
    return 'deleted';
  } catch (err) {
    if (isNoSuchEntity(err)) return 'absent';
    if (!isDeleteConflict(err)) throw err;
  }
  return deleteIamUserCompletely(iam, UserName, target, sleep);
}

/**
 * Deletes an IAM user and everything attached to it, found by listing. Used
 * when the recorded resources were not enough (DeleteConflict) and by crash
 * recovery, which only knows the user name. Returns 'absent' when AWS says the
 * user does not exist.
 */
export async function deleteIamUserCompletely(
  iam: IAMClient,
  UserName: string,
  target: RevokeTarget,
  sleep: (ms: number) => Promise<void>,
): Promise<'deleted' | 'absent'> {
  for (let round = 1; ; round++) {
    let skipped: Skipped[];
    try {
      skipped = await removeAttachments(iam, UserName, target);
    } catch (err) {
      if (isNoSuchEntity(err)) return round === 1 ? 'absent' : 'deleted';
      throw err;
    }
    try {
      await awsCall({ ...target, operation: 'DeleteUser' }, () => iam.send(new DeleteUserCommand({ UserName })));
      return 'deleted';
    } catch (err) {
      if (isNoSuchEntity(err)) return 'deleted';
      if (!isDeleteConflict(err)) throw err;
      if (round >= DELETE_CONFLICT_ROUNDS) throw conflictError(UserName, target, err, skipped);
    }
    await sleep(DELETE_CONFLICT_WAIT_MS);
  }
}

/** An optional cleanup call that could not be made, and why. */
interface Skipped {
  operation: string;
  code: string;
}

/**
 * DeleteUser still conflicts: say what AWS says is attached, and which of
 * credops's cleanup calls it was not allowed (or able) to make.
 */
function conflictError(UserName: string, target: RevokeTarget, err: unknown, skipped: Skipped[]): UserError {
  const what = (err as Error).message.replace(/^.*?AWS DeleteConflict: /, '');
  const lacking = skipped.map((s) => `${s.operation} (${s.code}${s.code === 'AccessDenied' ? `: grant iam:${s.operation}` : ''})`);
  return new UserError(
    `${target.mount}/roles/${target.role}: IAM user ${UserName} cannot be deleted: ${what}` +
      (lacking.length ? `; credops could not remove what was added out of band: ${lacking.join(', ')}` : ''),
    { cause: err },
  );
}

/**
 * Everything AWS requires gone before DeleteUser succeeds (DeleteUser's API
 * reference). A listing that answers NoSuchEntity throws it (the user is gone);
 * a delete that answers it is ignored (that item is gone).
 */
async function removeAttachments(iam: IAMClient, UserName: string, target: RevokeTarget): Promise<Skipped[]> {
  const ctx = (operation: string) => ({ ...target, operation });
  const del = (operation: string, run: () => Promise<unknown>) => ignoreMissing(awsCall(ctx(operation), run));
  const list = async <P>(operation: string, pages: AsyncIterable<P>, each: (page: P) => Promise<void>) =>
    awsCall(ctx(operation), async () => {
      for await (const page of pages) await each(page);
    });
  // What Vault's revocation never removes (out-of-band additions, its issue #16685) is
  // removed here on a best-effort basis: Vault's documented least-privilege root policy
  // does not allow these calls, and an AWS-compatible endpoint may lack them. A refusal,
  // a missing action or a failure after the SDK's retries is noted and skipped, never
  // allowed to stop DeleteUser: if something really is attached, DeleteUser says so.
  const skipped: Skipped[] = [];
  const optional = (operation: string, run: Promise<void>) =>
    run.catch((err: unknown) => {
      if (isNoSuchEntity(err)) throw err;
      if (isUnsupportedAction(err) || isAwsError(err, 'AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation') || isServerFailure(err)) {
        skipped.push({ operation, code: awsErrorCode(err) ?? 'error' });
        return;
      }
      throw err;
    });

  await list('ListAccessKeys', paginateListAccessKeys({ client: iam }, { UserName }), async (page) => {
    for (const key of page.AccessKeyMetadata ?? []) {
      const AccessKeyId = key.AccessKeyId;
      if (AccessKeyId) await del('DeleteAccessKey', () => iam.send(new DeleteAccessKeyCommand({ UserName, AccessKeyId })));
    }
  });
  await list('ListUserPolicies', paginateListUserPolicies({ client: iam }, { UserName }), async (page) => {
    for (const PolicyName of page.PolicyNames ?? []) {
      await del('DeleteUserPolicy', () => iam.send(new DeleteUserPolicyCommand({ UserName, PolicyName })));
    }
  });
  await list('ListAttachedUserPolicies', paginateListAttachedUserPolicies({ client: iam }, { UserName }), async (page) => {
    for (const policy of page.AttachedPolicies ?? []) {
      const PolicyArn = policy.PolicyArn;
      if (PolicyArn) await del('DetachUserPolicy', () => iam.send(new DetachUserPolicyCommand({ UserName, PolicyArn })));
    }
  });
  await list('ListGroupsForUser', paginateListGroupsForUser({ client: iam }, { UserName }), async (page) => {
    for (const group of page.Groups ?? []) {
      const GroupName = group.GroupName;
      if (GroupName) await del('RemoveUserFromGroup', () => iam.send(new RemoveUserFromGroupCommand({ UserName, GroupName })));
    }
  });
  await optional('DeleteLoginProfile', del('DeleteLoginProfile', () => iam.send(new DeleteLoginProfileCommand({ UserName }))));
  await optional(
    'ListMFADevices',
    list('ListMFADevices', paginateListMFADevices({ client: iam }, { UserName }), async (page) => {
      for (const device of page.MFADevices ?? []) {
        const SerialNumber = device.SerialNumber;
        if (!SerialNumber) continue;
        await del('DeactivateMFADevice', () => iam.send(new DeactivateMFADeviceCommand({ UserName, SerialNumber })));
        // A virtual device (its serial is an IAM ARN of type mfa) outlives the user in the
        // account, holding a seed nobody may use again; a hardware serial is not an ARN.
        if (VIRTUAL_MFA_ARN.test(SerialNumber)) await del('DeleteVirtualMFADevice', () => iam.send(new DeleteVirtualMFADeviceCommand({ SerialNumber })));
      }
    }),
  );
  await optional(
    'ListSSHPublicKeys',
    list('ListSSHPublicKeys', paginateListSSHPublicKeys({ client: iam }, { UserName }), async (page) => {
      for (const key of page.SSHPublicKeys ?? []) {
        const SSHPublicKeyId = key.SSHPublicKeyId;
        if (SSHPublicKeyId) await del('DeleteSSHPublicKey', () => iam.send(new DeleteSSHPublicKeyCommand({ UserName, SSHPublicKeyId })));
      }
    }),
  );
  await optional(
    'ListSigningCertificates',
    list('ListSigningCertificates', paginateListSigningCertificates({ client: iam }, { UserName }), async (page) => {
      for (const cert of page.Certificates ?? []) {
        const CertificateId = cert.CertificateId;
        if (CertificateId) await del('DeleteSigningCertificate', () => iam.send(new DeleteSigningCertificateCommand({ UserName, CertificateId })));
      }
    }),
  );
  await optional(
    'ListServiceSpecificCredentials',
    awsCall(ctx('ListServiceSpecificCredentials'), async () => {
      const out = await iam.send(new ListServiceSpecificCredentialsCommand({ UserName }));
      for (const cred of out.ServiceSpecificCredentials ?? []) {
        const ServiceSpecificCredentialId = cred.ServiceSpecificCredentialId;
        if (ServiceSpecificCredentialId) {
          await del('DeleteServiceSpecificCredential', () =>
            iam.send(new DeleteServiceSpecificCredentialCommand({ UserName, ServiceSpecificCredentialId })),
          );
        }
      }
    }),
  );
  return skipped;
}

/** A 5xx that outlasted the SDK's retries, or a request that never got an answer. */
function isServerFailure(err: unknown): boolean {
  const cause = (err as { cause?: { $fault?: string; name?: string } } | undefined)?.cause;
  return cause?.$fault === 'server' || cause?.name === 'TimeoutError' || isAwsError(err, 'ECONNRESET', 'ETIMEDOUT');
}

async function ignoreMissing(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (err) {
    if (!isNoSuchEntity(err)) throw err;
  }
}
