/**
 * The model: what the secrets repo asks for (DesiredModel), what the state
 * holds (AppliedSnapshot, Lease, JournalEntry) and what a plan says (Plan).
 *
 * Role fields keep Vault's names (snake_case): they are what users write, what
 * the plan shows and what `vault read aws/roles/X` prints. Internal records use
 * camelCase. The raw file shapes come from schemas/ (src/model/schema-types.ts,
 * generated); these are the normalised forms the rest of the code works with.
 */

export const CREDENTIAL_TYPES = ['iam_user', 'assumed_role', 'federation_token', 'session_token'] as const;
export type CredentialType = (typeof CREDENTIAL_TYPES)[number];

/** An IAM policy document, parsed. */
export interface PolicyDocument {
  Version?: string;
  Id?: string;
  Statement: PolicyStatement | PolicyStatement[];
}
export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Principal?: unknown;
  NotPrincipal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/**
 * A role after validation and normalisation: legacy fields mapped (policy ->
 * policy_document, arn -> role_arns/policy_arns), Vault's empty values
 * ("" / 0 / null) dropped, comma strings split, TTLs in seconds, tags as maps.
 */
export interface RoleSpec {
  mount: string;
  name: string;
  /** Path of the role file, relative to the repo root. */
  source: string;
  /** Usually one. Vault's legacy roles hold iam_user + federation_token. */
  credential_types: CredentialType[];
  policy_document?: PolicyDocument;
  /** When policy_document was "@policies/NAME.json": that path. */
  policy_file?: string;
  policy_arns: string[];
  iam_groups: string[];
  role_arns: string[];
  default_sts_ttl?: number;
  max_sts_ttl?: number;
  user_path?: string;
  permissions_boundary_arn?: string;
  iam_tags: Record<string, string>;
  session_tags: Record<string, string>;
  external_id?: string;
  mfa_serial_number?: string;
  /** credops server: at most this many live leases of this role issued through the API (429 past it). */
  max_leases?: number;
  /** credops server: at most this many issuances of this role per period through the API (429 past it). */
  max_issue_rate?: IssueRate;
  /**
   * What the role was made from: a digest of its file, of its @policies file
   * and of the credops release that checked them. A plan against a state that
   * holds the same digest reuses the applied role instead of checking the
   * unchanged file again (src/load/reuse.ts). Not a field of the role: never diffed.
   */
  source_digest?: string;
  /** The warnings its file had when it was checked, shown again when it is reused. */
  source_warnings?: { line: number; column: number; pointer: string; message: string }[];
}

/**
 * A static role (static-roles/NAME.json, Vault's aws/static-roles/NAME): an
 * existing IAM user whose access key credops replaces every rotation_period.
 * credops never creates or deletes the user, only its own access keys.
 */
export interface StaticRoleSpec {
  mount: string;
  name: string;
  source: string;
  username: string;
  /** Seconds. */
  rotation_period: number;
  /** Manage the user through this role, assumed with the mount's identity (a user in another account). */
  assume_role_arn?: string;
  assume_role_session_name?: string;
  external_id?: string;
}

export type DeletionPolicy = 'delete' | 'retain';

/** One delivery: which role's credentials go where (sinks/NAME.yaml). */
export interface SinkSpec {
  name: string;
  source: string;
  mount: string;
  /** The role whose credentials the sink holds; for a static sink, the static role's name. */
  role: string;
  /** Set when the sink delivers the current key of the static role `role` (sinks/NAME.yaml `static_role:`). */
  static_role?: true;
  /** Registry key of the sink type (src/sinks/index.ts): the one type key present in the file. */
  type: string;
  /** Type-specific settings, already validated by the sink schema. */
  config: Record<string, unknown>;
  /** Seconds. For iam_user: the lease TTL; for STS types: the credential's TTL. */
  ttl?: number;
  /** Seconds before expiry at which the credential is renewed or replaced (default ttl/3). */
  renew_before?: number;
  /** Seconds the replaced credential stays valid after the new one is published (default 300). */
  grace: number;
  /** For assumed_role roles with several role_arns. */
  role_arn?: string;
  deletion_policy: DeletionPolicy;
  /** Publish a new iam_user key only after GetCallerIdentity accepts it. */
  verify: boolean;
  /** Take over a target another credops state owns (sinks/NAME.yaml `adopt: true`). */
  adopt?: boolean;
}

/** One secrets-engine mount (`vault secrets enable -path=NAME aws`), from credops.yaml. */
export interface MountConfig {
  name: string;
  region?: string;
  iam_endpoint?: string;
  sts_endpoint?: string;
  /** Region of the STS endpoint when it differs from region (Vault's sts_region). */
  sts_region?: string;
  /** Seconds: rotate the stored root key this long after it was stored (Vault's rotation_period on config/root). */
  rotation_period?: number;
  /** Cron expression (UTC): rotate the stored root key at these times (Vault's rotation_schedule). */
  rotation_schedule?: string;
  /** Tried in order when sts_endpoint gives no answer (Vault's sts_fallback_endpoints), with the region at the same index. */
  sts_fallback_endpoints?: string[];
  sts_fallback_regions?: string[];
  /** A role this mount acts as, assumed with the ambient identity (Vault's role_arn on config/root). */
  role_arn?: string;
  external_id?: string;
  session_name?: string;
  max_retries?: number;
  /** Seconds to establish a connection to an AWS endpoint (per attempt). */
  connect_timeout?: number;
  /** Seconds one AWS request may wait for its answer (per attempt). */
  request_timeout?: number;
  /** Seconds; iam_user leases only (Vault's config/lease). Default 768h. */
  lease: number;
  lease_max: number;
  username_template?: string;
  /** Glob, relative to the repo root, of this mount's role files. */
  roles: string;
  /** Glob of this mount's static role files (default static-roles/*.json for mount aws). */
  static_roles?: string;
}

export interface EngineConfig {
  mounts: Record<string, MountConfig>;
  /** State URL from credops.yaml; --state and CREDOPS_STATE take precedence. */
  state?: string;
  audit_log?: string;
}

export interface DesiredModel {
  /** Where the repo was read from (directory path or git URL). */
  repo: string;
  /** Commit SHA applied, or "dirty" for a directory that is not a clean git tree. */
  commit: string;
  config: EngineConfig;
  roles: RoleSpec[];
  /** Absent means none (models and snapshots made before static roles existed). */
  staticRoles?: StaticRoleSpec[];
  sinks: SinkSpec[];
  /** credops server's auth methods and ACL policies (auth/, acl/). Absent means none. */
  access?: AccessSpec;
}

/** What the state says was last applied. */
export interface AppliedSnapshot {
  commit?: string;
  appliedAt?: number;
  roles: RoleSpec[];
  /** Absent means none (models and snapshots made before static roles existed). */
  staticRoles?: StaticRoleSpec[];
  sinks: SinkSpec[];
  mounts: MountConfig[];
  /** Absent means none. */
  access?: AccessSpec;
  /** Increases on every apply; saved plans record it to detect a changed state. */
  serial: number;
}

// ---- server access (auth/, acl/) --------------------------------------------

/** "10/m": at most count per periodSeconds, in fixed windows aligned to the epoch. */
export interface IssueRate {
  count: number;
  periodSeconds: number;
}

/** A JWT auth method (auth/MOUNT/config.json, Vault's `vault write auth/jwt/config`). */
export interface AuthMountSpec {
  /** The mount path: "jwt" for auth/jwt/, "kubernetes" for auth/kubernetes/. */
  name: string;
  /** Vault's auth method: a JWT config, or a Kubernetes config (kubernetes_host), whose tokens are service account tokens. */
  type: 'jwt' | 'kubernetes';
  source: string;
  /** Kubernetes: the cluster's API server. */
  kubernetes_host?: string;
  oidc_discovery_url?: string;
  jwks_url?: string;
  jwt_validation_pubkeys?: string[];
  bound_issuer?: string;
  jwt_supported_algs?: string[];
  default_role?: string;
}

/** A JWT auth role (auth/MOUNT/roles/NAME.json, Vault's `vault write auth/jwt/role/NAME`). Durations in seconds. */
export interface AuthRoleSpec {
  mount: string;
  name: string;
  source: string;
  bound_audiences: string[];
  bound_subject?: string;
  /** Claim -> accepted values (any one matches). */
  bound_claims: Record<string, (string | number | boolean)[]>;
  bound_claims_type: 'string' | 'glob';
  user_claim: string;
  claim_mappings: Record<string, string>;
  token_policies: string[];
  token_ttl: number;
  token_max_ttl: number;
  expiration_leeway: number;
  not_before_leeway: number;
  clock_skew_leeway: number;
  /** Kubernetes roles: the service accounts that may log in (globs: "*", "prefix*"). */
  bound_service_accounts?: { names: string[]; namespaces: string[]; alias: 'serviceaccount_uid' | 'serviceaccount_name' };
  /** Per token of this role. */
  max_leases?: number;
  max_issue_rate?: IssueRate;
}

/** One `path "..." { capabilities = [...] }` of an ACL policy. */
export interface AclPathRule {
  path: string;
  capabilities: string[];
}

/** An ACL policy (acl/NAME.hcl or .json, Vault's `vault policy write NAME`). */
export interface AclPolicySpec {
  name: string;
  source: string;
  paths: AclPathRule[];
}

export interface AccessSpec {
  auth: AuthMountSpec[];
  roles: AuthRoleSpec[];
  acl: AclPolicySpec[];
}

/** What an issued credential consists of in AWS: exactly what revocation must remove. Never a secret. */
export interface LeaseResources {
  userName?: string;
  userArn?: string;
  accessKeyId?: string;
  inlinePolicyName?: string;
  attachedPolicyArns?: string[];
  groups?: string[];
  /** STS: the ARN of the assumed role / federated user, for display. */
  principalArn?: string;
  /** assumed_role: the role assumed; its inline policy is where a revocation denies the session. */
  roleArn?: string;
  /** STS: the session's aws:userid (AssumedRoleId, FederatedUserId), which a revocation denies. */
  sessionUserId?: string;
  /** session_token: when AWS issued the token (its Expiration minus its duration), epoch ms; for aws:TokenIssueTime. */
  issuedAtAws?: number;
}

export interface Lease {
  /** MOUNT/creds/ROLE/ID or MOUNT/sts/ROLE/ID */
  leaseId: string;
  mount: string;
  role: string;
  credentialType: CredentialType;
  path: 'creds' | 'sts';
  /** Epoch milliseconds. */
  issuedAt: number;
  expiresAt: number;
  /** Renewals never extend past this (iam_user: issuedAt + lease_max). */
  maxExpiresAt: number;
  renewable: boolean;
  resources: LeaseResources;
  /** The sink this lease was issued for, if any. */
  sink?: string;
  /** Set when the lease was replaced: revoke at this time (grace). */
  revokeAt?: number;
  /** Epoch ms of the last renewal, if any (Vault's last_renewal). */
  lastRenewedAt?: number;
  /** credops server: the accessor of the token that asked for it. The lease never outlives that token. */
  token?: string;
  /** credops server: the cap counters this lease holds a place in (StateStore.addToCounter); released when it is revoked. */
  counters?: string[];
}

/** An in-flight AWS write, recorded before it happens (DESIGN invariant 1). */
export interface JournalEntry {
  id: string;
  leaseId: string;
  mount: string;
  role: string;
  kind: string;
  /** Engine-specific: what exists or may exist in AWS. Never a secret. */
  data: Record<string, unknown>;
  createdAt: number;
  /**
   * An issuance by credops server, which holds no lock: recovery leaves the
   * entry alone until this time (epoch ms), when the issuance has either
   * completed or been abandoned.
   */
  liveUntil?: number;
}

// ---- plan -----------------------------------------------------------------

export type ChangeAction = 'create' | 'update' | 'delete';

export interface FieldChange {
  field: string;
  before?: unknown;
  after?: unknown;
  /** A sink config field named like a secret: before/after say only "(sensitive value)" when set, never the value. */
  sensitive?: boolean;
}

export interface PolicyDelta {
  actionsAdded: string[];
  actionsRemoved: string[];
  /** True when the change widens access: a "*" action or resource, or a new service. */
  widens: boolean;
  reasons: string[];
}

export interface RoleChange {
  action: ChangeAction;
  mount: string;
  name: string;
  source?: string;
  fields: FieldChange[];
  policy?: PolicyDelta;
  /** Live leases that applying this change revokes (role removed). */
  leasesToRevoke: number;
  /** Sinks whose credentials are replaced because of this change. */
  sinksToRotate: string[];
}

export interface SinkChange {
  action: ChangeAction;
  name: string;
  source?: string;
  type: string;
  fields: FieldChange[];
  /** The sink's published credential is replaced (its mount, role, role_arn, type, ttl or config changed). */
  rotate?: boolean;
}

/** A static role added, changed or removed. Removing one stops the rotation and deletes credops's key, never the user. */
export interface StaticRoleChange {
  action: ChangeAction;
  mount: string;
  name: string;
  source?: string;
  fields: FieldChange[];
}

/** A change to credops server's access: an auth method, an auth role or an ACL policy. */
export interface AccessChange {
  action: ChangeAction;
  kind: 'auth method' | 'auth role' | 'acl policy';
  /** `jwt`, `jwt/ci`, `dev`. */
  address: string;
  source?: string;
  fields: FieldChange[];
  /** What this change newly lets in: "auth role jwt/ci gains aws/creds/prod-app". */
  widens: string[];
}

/** Credential paths an auth role's tokens reach after the plan and did not before. */
export interface AccessGain {
  /** `jwt/ci`. */
  authRole: string;
  paths: string[];
}

/** When a static role's key is next replaced. */
export interface StaticRotation {
  mount: string;
  name: string;
  username: string;
  /** Epoch ms of the next rotation; absent when due now. */
  at?: number;
  /** "new static role", "rotation_period passed", "interrupted rotation"; absent when not due. */
  due?: string;
}

/** A mount of credops.yaml added, changed or removed. */
export interface MountChange {
  action: ChangeAction;
  name: string;
  fields: FieldChange[];
}

// ---- drift ------------------------------------------------------------------

/** What `plan --refresh` can find changed outside credops: on an iam_user lease's user, or a sink's target taken over by another state (src/reconcile/drift.ts). */
export const DRIFT_KINDS = ['user_deleted', 'key_deleted', 'key_inactive', 'policy_changed', 'policy_detached', 'group_removed', 'sink_taken_over'] as const;
export type DriftKind = (typeof DRIFT_KINDS)[number];

/** One difference between a live lease and AWS. Never a secret. */
export interface DriftItem {
  leaseId: string;
  /** The sink the lease was issued for, if any: reconcile gives it a fresh credential. */
  sink?: string;
  kind: DriftKind;
  /** What differs, naming the user, key, policy or group. */
  detail: string;
}

export interface Plan {
  formatVersion: 1;
  repo: string;
  commit: string;
  /** The state this plan was made against (saved plans are refused if it moved). */
  state: { commit?: string; serial: number };
  /** Changes to credops.yaml mounts. makePlan always sets it; optional only for Plans built by hand. */
  mounts?: MountChange[];
  roles: RoleChange[];
  /** Static role changes; absent in plans made before static roles existed. */
  staticRoles?: StaticRoleChange[];
  sinks: SinkChange[];
  /** credops server's auth methods, auth roles and ACL policies; absent in plans made before them. */
  access?: AccessChange[];
  /** Auth roles that reach credential paths they did not reach before ("widens access"). */
  accessGains?: AccessGain[];
  /** Every static role of the repo and its next key rotation. Absent when not computed. */
  staticRotations?: StaticRotation[];
  summary: { add: number; change: number; destroy: number };
  warnings: { file: string; line: number; column: number; pointer: string; message: string }[];
  /** Set by `plan --refresh`: live leases that no longer match AWS. Absent when AWS was not checked. */
  drift?: DriftItem[];
  /**
   * Credentials reconcile would issue, renew or replace now for sinks whose
   * spec does not change (a revoked or expired lease, a rotation due), so that
   * the plan shows all the AWS work reconcile does. Absent when not computed.
   */
  sinkWork?: SinkWork[];
}

/** One sink's credential work that is due (the sink lifecycle's schedule). */
export interface SinkWork {
  sink: string;
  work: 'issue' | 'renew' | 'rotate';
  /** Why, in words: "its lease is gone", "expires in 10m", "role changed". */
  reason: string;
}
