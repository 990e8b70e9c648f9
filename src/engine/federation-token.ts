import { GetFederationTokenCommand } from '@aws-sdk/client-sts';
import {
  STS_FEDERATION_NAME_MAX,
  STS_FEDERATION_NAME_MIN,
} from '../limits.js';
import { awsCall } from './aws-errors.js';
import type { CredentialKind } from './credential-type.js';
import { UserError } from '../errors.js';
import { sessionPolicyOf, STS_KIND, stsIssued, stsRequestTtl } from './sts-credential.js';
import { recordedTooLittle, revokeStsSession, rootUser } from './sts-revoke.js';
import { DEFAULT_USERNAME_TEMPLATE, renderUsername } from './username.js';

/**
 * federation_token: GetFederationToken as the root identity (an IAM user),
 * scoped down by policy_document and policy_arns, with the policies of the
 * role's iam_groups folded in as Vault does. The federated user's Name
 * comes from the username template, fitted into AWS's 32 characters.
 */
export const federationToken: CredentialKind = {
  type: 'federation_token',
  ...STS_KIND,

  async issue(ctx) {
    const { role, mount } = ctx;
    const ttl = stsRequestTtl(ctx, 'federation_token');
    const Name = renderUsername(
      mount.username_template ?? DEFAULT_USERNAME_TEMPLATE,
      { role: role.name, mount: mount.name, type: 'STS', now: ctx.clock.now(), ...(ctx.request.sink ? { displayName: ctx.request.sink } : {}) },
      STS_FEDERATION_NAME_MAX,
      STS_FEDERATION_NAME_MIN,
    );
    const policy = await sessionPolicyOf(ctx);
    // Without a policy, GetFederationToken would hand out the root identity's own permissions (Vault refuses too).
    if (!policy.Policy && !policy.PolicyArns) {
      throw new UserError(`${mount.name}/roles/${role.name}: must specify at least one of policy_arns or policy_document with federation_token credential_type`);
    }
    const out = await awsCall({ mount: mount.name, role: role.name, operation: 'GetFederationToken' }, () =>
      ctx.clients.sts(mount).send(new GetFederationTokenCommand({ Name, DurationSeconds: ttl, ...policy })),
    );
    return stsIssued(ctx, 'federation_token', out.Credentials, out.FederatedUser?.Arn, { sessionUserId: out.FederatedUser?.FederatedUserId });
  },

  /**
   * An explicit Deny on the IAM user that federated (the root identity) for
   * this session's aws:userid (ACCOUNT:name), see sts-revoke.ts.
   */
  revoke(ctx) {
    return revokeStsSession(ctx, async (revoke, iam) => {
      const userId = revoke.lease.resources.sessionUserId;
      if (!userId) return { unknown: recordedTooLittle(revoke.lease) };
      const { userId: _own, ...principal } = await rootUser(revoke, iam);
      return { principal, deny: { userId, expiresAt: revoke.lease.expiresAt } };
    });
  },
};
