import type { AwsClients } from '../aws/clients.js';
import type { Clock } from '../clock.js';
import type { CredentialType, JournalEntry, Lease, MountConfig, PolicyDocument, RoleSpec } from '../model/types.js';
import type { LeaseDrift, RestoreStep } from './drift.js';

/**
 * One kind of AWS credential (Vault's credential_type): how it is issued, how
 * it is revoked, whether its lease renews. Each lives in its own file and is
 * listed in registry.ts; nothing else knows the type names.
 */
export interface CredentialKind {
  readonly type: CredentialType;
  readonly renewable: boolean;
  /**
   * Where a role of this type is read when the caller names no path (a sink,
   * credential_process): Vault's aws/creds/ROLE or aws/sts/ROLE.
   */
  readonly defaultPath: 'creds' | 'sts';
  /**
   * The credential is an IAM access key, which IAM may refuse for seconds after
   * CreateAccessKey (eventual consistency): wait until AWS accepts it before
   * handing it to a consumer that will use it at once.
   */
  readonly verifyBeforeUse: boolean;
  /** Issuance creates IAM users (which `tidy --orphans` looks for under the role's user_path). */
  readonly createsIamUsers: boolean;
  /** Types that leave something in AWS that can drift: how to check a live lease, and how to put it back. */
  readonly drift?: {
    check(ctx: DriftContext): Promise<LeaseDrift | undefined>;
    restore(ctx: DriftContext, steps: RestoreStep[]): Promise<void>;
  };
  /** Creates the credential in AWS. The engine then stores the lease (completing the journal entry, if one was begun). */
  issue(ctx: IssueContext): Promise<Issued>;
  revoke(ctx: RevokeContext): Promise<RevokeResult>;
  /** Undoes a journal entry this kind began and did not complete (crash recovery). */
  rollback?(ctx: RollbackContext): Promise<RollbackResult>;
}

export interface IssueRequest {
  mount: string;
  role: string;
  path: 'creds' | 'sts';
  /** Seconds. STS: the credential's TTL (within the role's and AWS's limits). iam_user: the lease TTL (capped at lease_max). */
  ttl?: number;
  /** assumed_role: which of the role's role_arns. */
  roleArn?: string;
  /** The sink the credential is issued for, recorded on the lease. */
  sink?: string;
  /** The current code of the role's mfa_serial_number device. */
  mfaCode?: string;
  /** assumed_role: the session name instead of the username template's (Vault's role_session_name). */
  roleSessionName?: string;
  /** credops server: who asked. The lease never outlives that token and holds a place in its cap counters. */
  asker?: Asker;
}

/** A credops server token asking for a credential (src/server/). */
export interface Asker {
  /** The token's accessor (never the token). */
  accessor: string;
  /** Epoch ms: the token's expiry, and the latest it can be renewed to. */
  expiresAt: number;
  maxExpiresAt: number;
  /** The cap counters reserved for this issuance; the lease keeps them until it is revoked. */
  counters: string[];
}

export interface IssuedCredential {
  lease: Lease;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** STS credentials: when AWS expires them. */
  expiration?: Date;
}

export interface IssueContext {
  role: RoleSpec;
  mount: MountConfig;
  request: IssueRequest;
  leaseId: string;
  clients: AwsClients;
  clock: Clock;
  journal: IssueJournal;
}

/** The write-ahead journal as an issuance sees it (journal.ts). */
export interface IssueJournal {
  /** Records what is about to be created in AWS, before the first call that creates it. Returns the entry id. */
  begin(data: Record<string, unknown>): Promise<string>;
  /** What the entry announced was fully undone: forget it. */
  discard(id: string): Promise<void>;
}

export interface Issued {
  credential: IssuedCredential;
  /** The journal entry that the lease completes, atomically. */
  journalId?: string;
}

export interface RevokeContext {
  lease: Lease;
  mount: MountConfig;
  clients: AwsClients;
  clock: Clock;
}

export interface RevokeResult {
  /** False when AWS has no way to invalidate the credential: it stays valid until it expires. */
  invalidated: boolean;
  /** STS: where the explicit Deny that refuses the credential now lives (a role's or user's inline policy). */
  deniedBy?: string;
  /** When not invalidated: why not, in words for the CLI and the audit log. */
  reason?: string;
}

export interface DriftContext {
  lease: Lease;
  mount: MountConfig;
  clients: AwsClients;
  /** The lease's role in the applied state, if it still exists. */
  role?: RoleSpec;
  /** The inline policy the lease must have, when it is known (reconcile/drift.ts). */
  expected?: PolicyDocument;
}

export interface RollbackContext {
  entry: JournalEntry;
  mount: MountConfig;
  clients: AwsClients;
  clock: Clock;
}

/** `absent`: AWS knows nothing of what the entry announced (never created, or IAM has not caught up). */
export type RollbackResult = 'deleted' | 'absent';
