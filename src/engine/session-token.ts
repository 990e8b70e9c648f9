import { GetSessionTokenCommand } from '@aws-sdk/client-sts';
import { awsCall } from './aws-errors.js';
import type { CredentialKind } from './credential-type.js';
import { mfaParams, STS_KIND, stsIssued, stsRequestTtl } from './sts-credential.js';
import { recordedTooLittle, revokeStsSession, rootUser } from './sts-revoke.js';

/**
 * session_token: GetSessionToken for the root identity itself (with MFA when
 * the role sets mfa_serial_number). It carries the root identity's own
 * permissions; AWS accepts no session policy here.
 */
export const sessionToken: CredentialKind = {
  type: 'session_token',
  ...STS_KIND,

  async issue(ctx) {
    const { role, mount, request } = ctx;
    const ttl = stsRequestTtl(ctx, 'session_token');
    const mfa = mfaParams(role, request);
    const out = await awsCall({ mount: mount.name, role: role.name, operation: 'GetSessionToken' }, () =>
      ctx.clients.sts(mount).send(new GetSessionTokenCommand({ DurationSeconds: ttl, ...mfa })),
    );
    // AWS does not return the issue time; the credential lasts exactly DurationSeconds from it.
    const expiration = out.Credentials?.Expiration?.getTime();
    return stsIssued(ctx, 'session_token', out.Credentials, undefined, {
      ...(expiration !== undefined ? { issuedAtAws: expiration - ttl * 1000 } : {}),
    });
  },

  /**
   * An explicit Deny on the root identity's IAM user for its own aws:userid,
   * narrowed by aws:TokenIssueTime to this token (see sts-revoke.ts: the
   * user's long-term keys are never matched).
   */
  revoke(ctx) {
    return revokeStsSession(ctx, async (revoke, iam) => {
      const issuedAt = revoke.lease.resources.issuedAtAws;
      if (issuedAt === undefined) return { unknown: recordedTooLittle(revoke.lease) };
      const { userId, ...principal } = await rootUser(revoke, iam);
      return { principal, deny: { userId, expiresAt: revoke.lease.expiresAt, issuedAt } };
    });
  },
};
