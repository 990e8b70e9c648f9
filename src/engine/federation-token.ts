import { GetFederationTokenCommand } from '@aws-sdk/client-sts';
import {
  STS_FEDERATION_MAX_SECONDS,
  STS_FEDERATION_MIN_SECONDS,
  STS_FEDERATION_NAME_MAX,
  STS_FEDERATION_NAME_MIN,
  STS_POLICY_ARNS_MAX,
  STS_SESSION_POLICY_MAX_CHARS,
} from '../limits.js';
import { awsCall } from './aws-errors.js';
import { checkCount, checkDuration, checkPolicySize } from './checks.js';
import type { CredentialKind } from './credential-type.js';
import { sessionPolicy, stsIssued } from './sts-credential.js';
import { recordedTooLittle, revokeStsSession, rootUser } from './sts-revoke.js';
import { stsTtl } from './ttl.js';
import { DEFAULT_USERNAME_TEMPLATE, renderUsername } from './username.js';

/**
 * federation_token: GetFederationToken as the root identity (an IAM user),
 * scoped down by policy_document and policy_arns. The federated user's Name
 * comes from the username template, fitted into AWS's 32 characters.
 */
export const federationToken: CredentialKind = {
  type: 'federation_token',
  renewable: false,

  async issue(ctx) {
    const { role, mount, request } = ctx;
    const ttl = stsTtl(request.ttl, role);
    checkDuration(role, ttl, STS_FEDERATION_MIN_SECONDS, STS_FEDERATION_MAX_SECONDS, 'GetFederationToken');
    checkPolicySize(role, STS_SESSION_POLICY_MAX_CHARS, 'a federation token policy');
    checkCount(role, 'policy_arns', role.policy_arns.length, STS_POLICY_ARNS_MAX, 'session policy ARNs');
    const Name = renderUsername(
      mount.username_template ?? DEFAULT_USERNAME_TEMPLATE,
      { role: role.name, mount: mount.name, now: ctx.clock.now() },
      STS_FEDERATION_NAME_MAX,
      STS_FEDERATION_NAME_MIN,
    );
    const out = await awsCall({ mount: mount.name, role: role.name, operation: 'GetFederationToken' }, () =>
      ctx.clients.sts(mount).send(new GetFederationTokenCommand({ Name, DurationSeconds: ttl, ...sessionPolicy(role) })),
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
