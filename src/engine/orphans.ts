import { errorMessage } from '../errors.js';
import { paginateListUsers, paginateListUserTags, type IAMClient } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import type { AuditLog } from '../audit.js';
import type { AwsClients } from '../aws/clients.js';
import { readStoredRootKeys } from '../state/root-keys.js';
import type { Clock } from '../clock.js';
import { awsCall, isNoSuchEntity } from './aws-errors.js';
import { CREDOPS_TAGS } from './iam-user.js';
import { mountConfig, REVOKE_CONCURRENCY } from './deps.js';
import { forEachBounded } from './pool.js';
import { credentialKinds } from './registry.js';
import { deleteIamUserCompletely } from './revoke.js';
import { DEFAULT_USERNAME_PATTERN, DEFAULT_USERNAME_TEMPLATE } from './username.js';
import type { AppliedSnapshot, MountConfig } from '../model/types.js';
import { compareStrings } from '../plan/normalise.js';
import type { StateStore } from '../state/store.js';

/**
 * Orphans (`credops tidy --orphans`): IAM users that credops created but the
 * state no longer knows, typically after a lost or restored state file.
 * DESIGN invariant 1 keeps them from arising while the state is intact; this
 * finds them when it was not.
 *
 * A user is credops's when it carries credops's tags (every user the engine
 * creates gets them in the CreateUser call itself), or when its whole name has
 * the shape of the mount's username_template. It is an orphan when no lease
 * and no journal entry names it, and it is not the identity credops acts as.
 */

/** Mount scanned when the state has none (a lost state file): Vault's default mount path. */
export const DEFAULT_MOUNT = 'aws';

/** ListUserTags calls in flight at once: one per user under the path, so an account with many users needs a bound. */
export const TAG_LOOKUP_CONCURRENCY = 8;

export interface OrphanUser {
  mount: string;
  userName: string;
  path: string;
  arn?: string;
  /** Epoch ms. */
  createdAt?: number;
  /** From the credops:role and credops:lease tags, when present. */
  role?: string;
  leaseId?: string;
  /** `tags`: it carries credops:* tags; `name`: only its name matches the username_template. */
  matchedBy: 'tags' | 'name';
}

export interface OrphanDeps {
  state: StateStore;
  clients: AwsClients;
  concurrency?: number;
}

export async function findOrphans(deps: OrphanDeps, opts: { mount?: string } = {}): Promise<OrphanUser[]> {
  const { state, clients } = deps;
  const applied = await state.getApplied();
  const mounts = opts.mount ? [opts.mount] : mountNames(applied);
  const found = new Map<string, OrphanUser>();
  const self = await identities(deps, applied, mounts);

  for (const name of mounts) {
    const mount = mountConfig(applied, name);
    const iam = clients.iam(mount);
    const users = await listUsers(iam, name, userPaths(applied, name));

    // The state is read after listing AWS: a user listed above was journalled
    // before it was created, so by now it is in the journal or is a lease.
    const known = await knownUserNames(state);
    const candidates = users.filter((u) => !known.has(u.userName.toLowerCase()) && !(u.arn && self.arns.has(u.arn)) && !self.userNames.has(u.userName.toLowerCase()));
    const pattern = usernamePattern(mount.username_template ?? DEFAULT_USERNAME_TEMPLATE);
    await forEachBounded(candidates, deps.concurrency ?? TAG_LOOKUP_CONCURRENCY, async (user) => {
      const tags = await userTags(iam, name, user.userName);
      const tagged = tags[CREDOPS_TAGS.mount] !== undefined || tags[CREDOPS_TAGS.lease] !== undefined;
      // Tagged for another mount: that mount's scan reports it.
      if (tagged && (tags[CREDOPS_TAGS.mount] ?? name) !== name) return;
      if (!tagged && !pattern?.test(user.userName)) return;
      const key = user.arn ?? `${name}\n${user.userName}`;
      if (found.has(key)) return;
      found.set(key, {
        ...user,
        mount: name,
        ...(tags[CREDOPS_TAGS.role] !== undefined && { role: tags[CREDOPS_TAGS.role] }),
        ...(tags[CREDOPS_TAGS.lease] !== undefined && { leaseId: tags[CREDOPS_TAGS.lease] }),
        matchedBy: tagged ? 'tags' : 'name',
      });
    });
  }
  return [...found.values()].sort((a, b) => compareStrings(a.mount, b.mount) || compareStrings(a.userName, b.userName));
}

export interface DeleteOrphansDeps extends OrphanDeps {
  clock: Clock;
  audit?: AuditLog;
}

export interface DeleteOrphansResult {
  deleted: string[];
  /** Already gone when deleted (IAM's listing lags a deletion). */
  absent: string[];
  failed: { userName: string; error: string }[];
}

/**
 * Deletes each orphan with everything attached to it, in the engine's safe
 * revocation order (access keys first). The caller holds the state lock and
 * has recovered the journal, so no issuance is in flight and every user the
 * state knows is excluded by findOrphans.
 */
export async function deleteOrphans(
  deps: DeleteOrphansDeps,
  orphans: OrphanUser[],
  opts: { onProgress?: (done: number, total: number, userName: string) => void } = {},
): Promise<DeleteOrphansResult> {
  const { state, clients, clock, audit } = deps;
  const applied = await state.getApplied();
  const result: DeleteOrphansResult = { deleted: [], absent: [], failed: [] };
  let done = 0;
  await forEachBounded(orphans, deps.concurrency ?? REVOKE_CONCURRENCY, async (orphan) => {
    const target = { mount: orphan.mount, role: orphan.role ?? '(orphan)' };
    const base = { mount: orphan.mount, ...(orphan.role && { role: orphan.role }), ...(orphan.leaseId && { lease_id: orphan.leaseId }) };
    try {
      const outcome = await deleteIamUserCompletely(clients.iam(mountConfig(applied, orphan.mount)), orphan.userName, target, (ms) => clock.sleep(ms));
      (outcome === 'deleted' ? result.deleted : result.absent).push(orphan.userName);
      audit?.record({ operation: 'revoke', outcome: 'ok', ...base, details: { orphan: true, user_name: orphan.userName, found_in_aws: outcome === 'deleted' } });
    } catch (err) {
      const error = errorMessage(err);
      result.failed.push({ userName: orphan.userName, error });
      audit?.record({ operation: 'revoke', outcome: 'error', ...base, error, details: { orphan: true, user_name: orphan.userName } });
    }
    opts.onProgress?.(++done, orphans.length, orphan.userName);
  });
  return result;
}

/**
 * A regular expression for every name the template can render, or undefined
 * when the template is too loose to tell credops's users from anyone's: it
 * must start with fixed text and hold {{unix_time}} or {{random N}}. Known for
 * the default template and for templates of plain {{role}}, {{mount}},
 * {{unix_time}} and {{random N}} actions; other templates of Vault's language
 * have none, and their users are found by credops's tags alone.
 */
export function usernamePattern(template: string): RegExp | undefined {
  if (template === DEFAULT_USERNAME_TEMPLATE) return DEFAULT_USERNAME_PATTERN;
  const allowed = '[\\w+=,.@-]';
  let source = '';
  let last = 0;
  let distinctive = false;
  let prefix: string | undefined;
  for (const match of template.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)) {
    const literal = template.slice(last, match.index);
    prefix ??= literal;
    source += escapeRegExp(literal);
    const [field, arg] = (match[1] ?? '').split(/\s+/);
    if (field === 'role' || field === 'mount') {
      source += `${allowed}*`;
    } else if (field === 'unix_time') {
      source += '\\d+';
      distinctive = true;
    } else if (field === 'random' && Number.isInteger(Number(arg))) {
      source += `[A-Za-z0-9]{${Number(arg)}}`;
      distinctive = true;
    } else {
      return undefined;
    }
    last = match.index + match[0].length;
  }
  source += escapeRegExp(template.slice(last));
  if (!distinctive || !prefix) return undefined;
  return new RegExp(`^${source}$`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function mountNames(applied: AppliedSnapshot): string[] {
  const names = [...new Set([...applied.mounts.map((m) => m.name), ...applied.roles.map((r) => r.mount)])].sort();
  return names.length ? names : [DEFAULT_MOUNT];
}

/** The user_path values of the mount's roles that create IAM users (default "/"), without those another one already covers. */
export function userPaths(applied: AppliedSnapshot, mount: string): string[] {
  const roles = applied.roles.filter((r) => r.mount === mount && r.credential_types.some((t) => credentialKinds[t].createsIamUsers));
  const paths = [...new Set(roles.map((r) => r.user_path ?? '/'))].sort();
  if (!paths.length) return ['/'];
  return paths.filter((p) => !paths.some((q) => q !== p && p.startsWith(q)));
}

type ListedUser = Pick<OrphanUser, 'userName' | 'path' | 'arn' | 'createdAt'>;

async function listUsers(iam: IAMClient, mount: string, paths: string[]): Promise<ListedUser[]> {
  const users: ListedUser[] = [];
  for (const PathPrefix of paths) {
    await awsCall({ mount, operation: 'ListUsers' }, async () => {
      for await (const page of paginateListUsers({ client: iam }, { PathPrefix })) {
        for (const u of page.Users ?? []) {
          if (!u.UserName) continue;
          users.push({ userName: u.UserName, path: u.Path ?? '/', ...(u.Arn && { arn: u.Arn }), ...(u.CreateDate && { createdAt: u.CreateDate.getTime() }) });
        }
      }
    });
  }
  return users;
}

async function userTags(iam: IAMClient, mount: string, UserName: string): Promise<Record<string, string>> {
  const tags: Record<string, string> = {};
  await awsCall({ mount, operation: 'ListUserTags' }, async () => {
    for await (const page of paginateListUserTags({ client: iam }, { UserName })) {
      for (const t of page.Tags ?? []) if (t.Key !== undefined) tags[t.Key] = t.Value ?? '';
    }
  }).catch((err: unknown) => {
    // Deleted since it was listed: not an orphan any more.
    if (!isNoSuchEntity(err)) throw err;
  });
  return tags;
}

/** Every user name a lease or a journal entry holds, lower-cased: IAM user names are unique without case. */
async function knownUserNames(state: StateStore): Promise<Set<string>> {
  const [leases, journal] = await Promise.all([state.listLeases(), state.listJournal()]);
  const names = new Set<string>();
  for (const lease of leases) if (lease.resources.userName) names.add(lease.resources.userName.toLowerCase());
  for (const entry of journal) if (typeof entry.data.userName === 'string') names.add(entry.data.userName.toLowerCase());
  return names;
}

/**
 * Who credops is (never an orphan, whatever its name or tags): the caller of
 * each scanned mount, and the user of every root key stored in the state.
 */
async function identities(deps: OrphanDeps, applied: AppliedSnapshot, scanned: string[]): Promise<{ arns: Set<string>; userNames: Set<string> }> {
  const arns = new Set<string>();
  const userNames = new Set<string>();
  for (const name of new Set([...scanned, ...mountNames(applied)])) {
    const stored = await readStoredRootKeys(deps.state, name);
    if (stored?.user_name) userNames.add(stored.user_name.toLowerCase());
  }
  for (const name of scanned) {
    const mount: MountConfig = mountConfig(applied, name);
    const caller = await awsCall({ mount: name, operation: 'GetCallerIdentity' }, () => deps.clients.sts(mount).send(new GetCallerIdentityCommand({})));
    if (!caller.Arn) continue;
    arns.add(caller.Arn);
    const user = /^arn:[^:]+:iam::\d+:user\/(?:.*\/)?([^/]+)$/.exec(caller.Arn);
    if (user?.[1]) userNames.add(user[1].toLowerCase());
  }
  return { arns, userNames };
}
