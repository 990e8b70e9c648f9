import type { AccessSpec, AclPolicySpec, AuthRoleSpec, RoleSpec, StaticRoleSpec } from '../model/types.js';

/**
 * Vault's ACL, as credops server applies it and the plan explains it: the
 * policies of a token are merged into one set of path rules (the capabilities
 * of one path written in several policies add up, and `deny` empties them),
 * then a request path is decided by the single most specific rule that
 * matches it, by Vault's priority rules ("Priority matching" in Vault's
 * policy docs). Pure: no I/O.
 */

export type Capability = 'create' | 'read' | 'update' | 'patch' | 'delete' | 'list' | 'sudo' | 'deny';

interface CompiledRule {
  path: string;
  capabilities: ReadonlySet<string>;
  test: RegExp;
  glob: boolean;
  /** Index of the first `+` or `*`; the pattern's length when it has none. */
  firstWildcard: number;
  plusSegments: number;
}

/** A token's merged policies, compiled once (a token's lifetime, or one plan). */
export class Acl {
  private readonly exact = new Map<string, CompiledRule>();
  private readonly patterns: CompiledRule[] = [];

  constructor(policies: readonly AclPolicySpec[]) {
    const merged = new Map<string, Set<string>>();
    for (const policy of policies) {
      for (const rule of policy.paths) {
        const caps = merged.get(rule.path) ?? new Set<string>();
        for (const c of rule.capabilities) caps.add(c);
        merged.set(rule.path, caps);
      }
    }
    for (const [path, caps] of merged) {
      const rule = compile(path, caps.has('deny') ? new Set(['deny']) : caps);
      if (rule.glob || rule.plusSegments > 0) this.patterns.push(rule);
      else this.exact.set(path, rule);
    }
    this.patterns.sort((a, b) => -comparePriority(a, b));
  }

  /** The capabilities on a path (empty when no rule matches, or the rule denies). */
  capabilities(path: string): ReadonlySet<string> {
    const rule = this.exact.get(path) ?? this.patterns.find((r) => r.test.test(path));
    if (!rule || rule.capabilities.has('deny')) return EMPTY;
    return rule.capabilities;
  }

  /** Whether every one of `needed` is granted on path. */
  allows(path: string, needed: readonly Capability[]): boolean {
    const caps = this.capabilities(path);
    return needed.every((c) => caps.has(c));
  }
}

const EMPTY: ReadonlySet<string> = new Set();

function compile(path: string, capabilities: ReadonlySet<string>): CompiledRule {
  const glob = path.endsWith('*');
  const body = glob ? path.slice(0, -1) : path;
  const source = body
    .split('/')
    .map((segment) => (segment === '+' ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  const wildcards = [path.indexOf('+'), path.indexOf('*')].filter((i) => i !== -1);
  return {
    path,
    capabilities,
    test: new RegExp(`^${source}${glob ? '[\\s\\S]*' : ''}$`),
    glob,
    firstWildcard: wildcards.length ? Math.min(...wildcards) : path.length,
    plusSegments: body.split('/').filter((s) => s === '+').length,
  };
}

/** Vault's priority of two matching patterns: > 0 when a is the more specific. */
function comparePriority(a: CompiledRule, b: CompiledRule): number {
  if (a.firstWildcard !== b.firstWildcard) return a.firstWildcard - b.firstWildcard;
  if (a.glob !== b.glob) return a.glob ? -1 : 1;
  if (a.plusSegments !== b.plusSegments) return b.plusSegments - a.plusSegments;
  if (a.path.length !== b.path.length) return a.path.length - b.path.length;
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

/** The policies an auth role's tokens get, by name (a name with no file grants nothing). */
export function policiesOf(role: Pick<AuthRoleSpec, 'token_policies'>, acl: readonly AclPolicySpec[]): AclPolicySpec[] {
  return role.token_policies.map((name) => acl.find((p) => p.name === name)).filter((p): p is AclPolicySpec => p !== undefined);
}

/** Every credential path credops serves for these roles: MOUNT/creds|sts/ROLE and MOUNT/static-creds/NAME. */
export function credentialPaths(roles: readonly Pick<RoleSpec, 'mount' | 'name'>[], staticRoles: readonly Pick<StaticRoleSpec, 'mount' | 'name'>[]): string[] {
  return [
    ...roles.flatMap((r) => [`${r.mount}/creds/${r.name}`, `${r.mount}/sts/${r.name}`]),
    ...staticRoles.map((r) => `${r.mount}/static-creds/${r.name}`),
  ];
}

/** How plans, tokens and the audit name an auth role: `jwt/ci`. */
export function authRoleAddress(role: Pick<AuthRoleSpec, 'mount' | 'name'>): string {
  return `${role.mount}/${role.name}`;
}

/** For each auth role (MOUNT/NAME), the credential paths its tokens may read or write. */
export function reachablePaths(access: AccessSpec | undefined, paths: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const role of access?.roles ?? []) {
    const acl = new Acl(policiesOf(role, access!.acl));
    out.set(authRoleAddress(role), paths.filter((p) => acl.allows(p, ['read']) || acl.allows(p, ['update'])));
  }
  return out;
}
