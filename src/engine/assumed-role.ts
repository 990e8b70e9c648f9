import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import {
  STS_EXTERNAL_ID_MAX,
  STS_EXTERNAL_ID_MIN,
  STS_ROLE_SESSION_NAME_MAX,
  STS_ROLE_SESSION_NAME_MIN,
  STS_SESSION_TAGS_MAX,
  STS_TAG_KEY_MAX,
  STS_TAG_VALUE_MAX,
} from '../limits.js';
import { UserError } from '../errors.js';
import type { RoleSpec } from '../model/types.js';
import { awsCall } from './aws-errors.js';
import { checkLength, checkTags } from './checks.js';
import type { CredentialKind } from './credential-type.js';
import { mfaParams, sessionPolicyOf, STS_KIND, stsIssued, stsRequestTtl } from './sts-credential.js';
import { locateRoleSession, revokeStsSession } from './sts-revoke.js';
import { normalizeName } from '../schema/vault-template.js';
import { DEFAULT_USERNAME_TEMPLATE, renderUsername } from './username.js';

/**
 * assumed_role: AssumeRole on one of the role's role_arns (same-account or
 * cross-account alike), with policy_document and policy_arns as session
 * policies and session_tags as session tags.
 */
export const assumedRole: CredentialKind = {
  type: 'assumed_role',
  ...STS_KIND,

  async issue(ctx) {
    const { role, mount, request } = ctx;
    const RoleArn = chooseRoleArn(role, request.roleArn);
    const ttl = stsRequestTtl(ctx, 'assumed_role');
    checkTags(role, 'session_tags', role.session_tags, { count: STS_SESSION_TAGS_MAX, keyMax: STS_TAG_KEY_MAX, valueMax: STS_TAG_VALUE_MAX });
    checkLength(role, 'external_id', role.external_id, STS_EXTERNAL_ID_MIN, STS_EXTERNAL_ID_MAX);
    const mfa = mfaParams(role, request);
    // Vault's role_session_name: characters AWS refuses become "_" (normalizeDisplayName), then AWS's length applies.
    const asked = request.roleSessionName === undefined ? undefined : normalizeName(request.roleSessionName);
    if (asked !== undefined) checkLength(role, 'role_session_name', asked, STS_ROLE_SESSION_NAME_MIN, STS_ROLE_SESSION_NAME_MAX);
    const RoleSessionName =
      asked ??
      renderUsername(
        mount.username_template ?? DEFAULT_USERNAME_TEMPLATE,
        { role: role.name, mount: mount.name, type: 'IAM', now: ctx.clock.now(), ...(request.sink ? { displayName: request.sink } : {}) },
        STS_ROLE_SESSION_NAME_MAX,
        STS_ROLE_SESSION_NAME_MIN,
      );
    const tags = Object.entries(role.session_tags).map(([Key, Value]) => ({ Key, Value }));
    const policy = await sessionPolicyOf(ctx);
    const out = await awsCall({ mount: mount.name, role: role.name, operation: `AssumeRole ${RoleArn}` }, () =>
      ctx.clients.sts(mount).send(
        new AssumeRoleCommand({
          RoleArn,
          RoleSessionName,
          DurationSeconds: ttl,
          ...policy,
          ...(tags.length ? { Tags: tags } : {}),
          ...(role.external_id ? { ExternalId: role.external_id } : {}),
          ...mfa,
        }),
      ),
    );
    return stsIssued(ctx, 'assumed_role', out.Credentials, out.AssumedRoleUser?.Arn, {
      roleArn: RoleArn,
      sessionUserId: out.AssumedRoleUser?.AssumedRoleId,
    });
  },

  /** An explicit Deny on the role for this session's aws:userid (ROLE_ID:session-name), see sts-revoke.ts. */
  revoke(ctx) {
    return revokeStsSession(ctx, locateRoleSession);
  },
};

/** `--role-arn` picks one of the role's role_arns; without it, the role must have exactly one. */
export function chooseRoleArn(role: RoleSpec, requested: string | undefined): string {
  const where = `${role.mount}/roles/${role.name}`;
  if (requested !== undefined) {
    if (!role.role_arns.includes(requested)) {
      throw new UserError(`role_arn ${requested} is not one of the role_arns of ${where}: ${role.role_arns.join(', ') || '(none)'}`);
    }
    return requested;
  }
  const [only, ...others] = role.role_arns;
  if (!only) throw new UserError(`${where} has no role_arns to assume`);
  if (others.length) {
    throw new UserError(`${where} has ${role.role_arns.length} role_arns; choose one with --role-arn:\n  ${role.role_arns.join('\n  ')}`);
  }
  return only;
}
