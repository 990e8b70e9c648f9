import { GetSessionTokenCommand } from '@aws-sdk/client-sts';
import { STS_SESSION_TOKEN_MAX_SECONDS, STS_SESSION_TOKEN_MIN_SECONDS } from '../aws/limits.js';
import { awsCall } from './aws-errors.js';
import { checkDuration } from './checks.js';
import type { CredentialKind } from './credential-type.js';
import { mfaParams, stsIssued } from './sts-credential.js';
import { stsTtl } from './ttl.js';

/**
 * session_token: GetSessionToken for the root identity itself (with MFA when
 * the role sets mfa_serial_number). It carries the root identity's own
 * permissions; AWS accepts no session policy here.
 */
export const sessionToken: CredentialKind = {
  type: 'session_token',
  renewable: false,

  async issue(ctx) {
    const { role, mount, request } = ctx;
    const ttl = stsTtl(request.ttl, role);
    checkDuration(role, ttl, STS_SESSION_TOKEN_MIN_SECONDS, STS_SESSION_TOKEN_MAX_SECONDS, 'GetSessionToken');
    const mfa = mfaParams(role, request);
    const out = await awsCall({ mount: mount.name, role: role.name, operation: 'GetSessionToken' }, () =>
      ctx.clients.sts(mount).send(new GetSessionTokenCommand({ DurationSeconds: ttl, ...mfa })),
    );
    return stsIssued(ctx, 'session_token', out.Credentials, undefined);
  },

  async revoke() {
    return { invalidated: false };
  },
};
