import type { AwsClients } from '../aws/clients.js';
import { UserError } from '../errors.js';
import type { MountConfig, SinkSpec } from '../model/types.js';

/**
 * What a sink receives: one live credential and the lease it belongs to.
 * The only place credops holds a secret after issuing it; a sink writes it
 * out and forgets it. Nothing here may reach an error message or a log.
 */
export interface PublishedCredential {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration: Date;
  leaseId: string;
}

/** A renewed lease: same credential, later expiry. Carries no secret. */
export interface SinkRefresh {
  leaseId: string;
  expiration: Date;
}

/** Where a sink's credentials are delivered (sinks/NAME.yaml). */
export interface Sink {
  /** Writes the credential to the target, replacing what credops published there before. */
  publish(cred: PublishedCredential): Promise<void>;
  /**
   * Moves the published expiry to `update.expiration` after a renewal, so that
   * consumers (an SDK honouring `Expiration`) do not drop a key that is still
   * valid. Only when the target still holds `update.leaseId` as credops wrote
   * it; otherwise throws, naming the sink. The secret is read and written back
   * within the call and never kept, logged or put in an error.
   * 'not-needed' when the target already shows that expiry, or carries none.
   */
  refresh(update: SinkRefresh): Promise<'refreshed' | 'not-needed'>;
  /** Removes what credops published (the deletion policy is the caller's decision). Gone already is fine. */
  remove(): Promise<void>;
  /**
   * Names the target, e.g. `secretsmanager us-east-1 ci/deploy`. Two specs with
   * the same description write to the same place; when it changes, the
   * credential moves and the old target is removed.
   */
  describe(): string;
  /**
   * Who owns the target now, as it records (no secret is read): the state
   * and lease that published it; undefined when there is nothing there.
   * `stateId` is undefined for a target published before owners were recorded.
   */
  owner(): Promise<{ stateId?: string; leaseId?: string } | undefined>;
}

/** The target belongs to another credops state, and the sink may not take it over. */
export function foreignOwner(spec: SinkSpec, ctx: SinkContext, owner: string | undefined): boolean {
  return owner !== undefined && ctx.stateId !== undefined && owner !== ctx.stateId && !spec.adopt && !ctx.adopt?.has(spec.name);
}

export function ownedByAnotherState(spec: SinkSpec, what: string, owner: string): UserError {
  return new UserError(
    `sink "${spec.name}" (${spec.source}): ${what} was published by another credops state (id ${owner}); refusing to take it over. ` +
      'If that state is gone or moved here on purpose, set "adopt: true" in the sink file, or run credops reconcile --adopt ' +
      `${spec.name}, to take it over`,
  );
}

export interface SinkContext {
  /** Absent where sinks are only described (a plan without --refresh, status): no AWS SDK is loaded then. */
  clients?: AwsClients;
  /** The id of the state publishing (StateStore.id): recorded on the target as its owner. */
  stateId?: string;
  /** Sinks allowed to take over a target another state owns this run (`reconcile --adopt`, drift repair). */
  adopt?: ReadonlySet<string>;
  /** Relative file paths are taken from here. */
  cwd: string;
  /** For `~` in file paths; defaults to the process's home directory. */
  home?: string;
  /** The repo's mounts: a sink without its own region uses its mount's. */
  mounts?: Record<string, MountConfig>;
}

export type SinkFactory = (spec: SinkSpec, ctx: SinkContext) => Sink;
