import {
  IAM_GROUPS_PER_USER,
  IAM_MANAGED_POLICIES_PER_USER,
  IAM_USER_INLINE_POLICY_MAX_CHARS,
  STS_ASSUME_ROLE_MAX_SECONDS,
  STS_ASSUME_ROLE_MIN_SECONDS,
  STS_FEDERATION_MAX_SECONDS,
  STS_FEDERATION_MIN_SECONDS,
  STS_POLICY_ARNS_MAX,
  STS_SESSION_POLICY_MAX_CHARS,
  STS_SESSION_TOKEN_MAX_SECONDS,
  STS_SESSION_TOKEN_MIN_SECONDS,
} from '../limits.js';
import type { CredentialType } from '../model/types.js';

/**
 * What each credential type (Vault's credential_type) means for a role file:
 * the validation half of the credential-type registry, pure data. The engine's
 * registry (src/engine/registry.ts) adds how each type is issued and revoked,
 * and checks the same limits again before calling AWS.
 */
export interface CredentialTypeRules {
  /** An STS credential: its call and the TTL range AWS accepts for it. */
  sts?: { call: string; minSeconds: number; maxSeconds: number };
  /** How the role's policy_document reaches AWS, and AWS's size limit on it. */
  policy?: { as: 'inline' | 'session'; maxChars: number };
  /** AWS's limit on policy_arns: managed policies attached to a user, or session policy ARNs. */
  policyArns?: { as: 'attached' | 'session'; max: number };
  /** AWS's limit on the groups an IAM user can be in. */
  groupsMax?: number;
  /** Role fields that have an effect only on some types; Vault ignores them on the others. */
  uses: readonly ('iam_tags' | 'iam_groups' | 'mfa_serial_number' | 'role_arns')[];
}

export const CREDENTIAL_TYPE_RULES: Record<CredentialType, CredentialTypeRules> = {
  iam_user: {
    policy: { as: 'inline', maxChars: IAM_USER_INLINE_POLICY_MAX_CHARS },
    policyArns: { as: 'attached', max: IAM_MANAGED_POLICIES_PER_USER },
    groupsMax: IAM_GROUPS_PER_USER,
    uses: ['iam_tags', 'iam_groups'],
  },
  assumed_role: {
    sts: { call: 'AssumeRole', minSeconds: STS_ASSUME_ROLE_MIN_SECONDS, maxSeconds: STS_ASSUME_ROLE_MAX_SECONDS },
    policy: { as: 'session', maxChars: STS_SESSION_POLICY_MAX_CHARS },
    policyArns: { as: 'session', max: STS_POLICY_ARNS_MAX },
    // Vault folds the groups' policies into the session policy (iam_policies.go).
    uses: ['iam_groups', 'role_arns'],
  },
  federation_token: {
    sts: { call: 'GetFederationToken', minSeconds: STS_FEDERATION_MIN_SECONDS, maxSeconds: STS_FEDERATION_MAX_SECONDS },
    policy: { as: 'session', maxChars: STS_SESSION_POLICY_MAX_CHARS },
    policyArns: { as: 'session', max: STS_POLICY_ARNS_MAX },
    uses: ['iam_groups'],
  },
  session_token: {
    sts: { call: 'GetSessionToken', minSeconds: STS_SESSION_TOKEN_MIN_SECONDS, maxSeconds: STS_SESSION_TOKEN_MAX_SECONDS },
    uses: ['mfa_serial_number'],
  },
};

export function rulesOf(type: CredentialType): CredentialTypeRules {
  return CREDENTIAL_TYPE_RULES[type];
}

/** The types among `types` whose rules satisfy `test`. */
export function typesWhere(types: readonly CredentialType[], test: (rules: CredentialTypeRules) => unknown): CredentialType[] {
  return types.filter((t) => Boolean(test(CREDENTIAL_TYPE_RULES[t])));
}

/**
 * Vault's upgradeLegacyPolicyEntry: a legacy `arn` that is a role ARN is
 * assumed, a policy ARN is attached to a user; a legacy `policy` document
 * serves both an IAM user and a federation token.
 */
export const LEGACY_TYPES: { roleArn: CredentialType[]; policyArn: CredentialType[]; policy: CredentialType[] } = {
  roleArn: ['assumed_role'],
  policyArn: ['iam_user'],
  policy: ['iam_user', 'federation_token'],
};
