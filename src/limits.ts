/**
 * AWS's numbers, in one place (STYLE.md §7). Each line says where AWS documents it.
 * Checking them before calling AWS turns a late, vague AWS error into an early,
 * precise one that names the role and field.
 */

// IAM quotas: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
export const IAM_USER_NAME_MAX = 64;
export const IAM_PATH_MAX = 512;
export const IAM_USER_INLINE_POLICY_MAX_CHARS = 2048; // whitespace not counted
export const IAM_MANAGED_POLICIES_PER_USER = 20;
export const IAM_GROUPS_PER_USER = 10;
export const IAM_ACCESS_KEYS_PER_USER = 2;
export const IAM_TAGS_PER_RESOURCE = 50;
export const IAM_TAG_KEY_MAX = 128;
export const IAM_TAG_VALUE_MAX = 256;
// IAM List* MaxItems: https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListUsers.html
export const IAM_LIST_MAX_ITEMS = 1000;

// STS: https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
export const STS_ROLE_SESSION_NAME_MIN = 2;
export const STS_ROLE_SESSION_NAME_MAX = 64;
export const STS_SESSION_POLICY_MAX_CHARS = 2048; // plaintext, whitespace not counted
export const STS_POLICY_ARNS_MAX = 10;
export const STS_SESSION_TAGS_MAX = 50;
export const STS_TAG_KEY_MAX = 128;
export const STS_TAG_VALUE_MAX = 256;
export const STS_EXTERNAL_ID_MIN = 2;
export const STS_EXTERNAL_ID_MAX = 1224;
export const STS_MFA_SERIAL_MIN = 9;
export const STS_MFA_SERIAL_MAX = 256;
export const STS_ASSUME_ROLE_MIN_SECONDS = 900;
// The real upper bound is the role's MaxSessionDuration (1h..12h); AWS checks it.
export const STS_ASSUME_ROLE_MAX_SECONDS = 43_200;

// https://docs.aws.amazon.com/STS/latest/APIReference/API_GetFederationToken.html
export const STS_FEDERATION_NAME_MIN = 2;
export const STS_FEDERATION_NAME_MAX = 32;
export const STS_FEDERATION_MIN_SECONDS = 900;
export const STS_FEDERATION_MAX_SECONDS = 129_600;

// https://docs.aws.amazon.com/STS/latest/APIReference/API_GetSessionToken.html
export const STS_SESSION_TOKEN_MIN_SECONDS = 900;
export const STS_SESSION_TOKEN_MAX_SECONDS = 129_600;

// Vault's default when neither --ttl nor default_sts_ttl is set (path_user.go).
export const STS_DEFAULT_TTL_SECONDS = 3600;

// Secrets Manager: https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DeleteSecret.html
export const SM_RECOVERY_WINDOW_MIN_DAYS = 7;
export const SM_RECOVERY_WINDOW_MAX_DAYS = 30;
// AWS's own default when DeleteSecret gets neither a window nor ForceDeleteWithoutRecovery.
export const SM_RECOVERY_WINDOW_DEFAULT_DAYS = 30;

// https://docs.aws.amazon.com/IAM/latest/APIReference/API_AccessKey.html (pattern [\w]+)
export const IAM_ACCESS_KEY_ID_MIN = 16;
export const IAM_ACCESS_KEY_ID_MAX = 128;
// SigV4 refuses a request whose timestamp is more than 5 minutes off AWS's clock:
// https://docs.aws.amazon.com/IAM/latest/UserGuide/signing-elements.html
export const SIGV4_CLOCK_SKEW_MS = 5 * 60_000;

// Revoking STS sessions with an explicit Deny (sts-revoke.ts): IAM quotas, as above. A role's
// inline policies together (whitespace not counted); a user's is IAM_USER_INLINE_POLICY_MAX_CHARS.
export const IAM_ROLE_INLINE_POLICIES_MAX_CHARS = 10_240;
