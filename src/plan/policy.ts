import type { PolicyDelta, PolicyStatement, RoleSpec } from '../model/types.js';
import { compareStrings, toArray, uniqueSorted } from './normalise.js';

/**
 * What a role grants, read from its policy document. IAM compares action names
 * case-insensitively, so entries are keyed in lower case and keep the first
 * spelling the user wrote. Wildcards (`s3:Get*`) are kept as written: there is
 * no action catalogue here to expand them against.
 */
interface Grants {
  /** Actions allowed; a NotAction statement counts as one entry "* except A, B". */
  allowed: Map<string, string>;
  /** Allowed entries whose statement names Resource "*". */
  onEveryResource: Map<string, string>;
  /** Allow statements with NotResource, as "ENTRIES except on R1, R2". */
  notResource: Map<string, string>;
  denied: Map<string, string>;
  /** Lower-case service prefixes of allowed actions. */
  services: Set<string>;
  /** An allowed "*" or NotAction: every service may be reached, so none is new. */
  everyService: boolean;
}

function grantsOf(role: RoleSpec | undefined): Grants {
  const grants: Grants = { allowed: new Map(), onEveryResource: new Map(), notResource: new Map(), denied: new Map(), services: new Set(), everyService: false };
  const statements = role?.policy_document ? toArray(role.policy_document.Statement) : [];
  for (const statement of statements) {
    if (statement.Effect === 'Deny') {
      for (const action of toArray(statement.Action ?? [])) add(grants.denied, action);
      continue;
    }
    const entries = allowedEntries(statement);
    for (const entry of entries) add(grants.allowed, entry);
    if (statement.NotAction !== undefined) grants.everyService = true;
    for (const action of toArray(statement.Action ?? [])) {
      if (action === '*') grants.everyService = true;
      else if (action.includes(':')) grants.services.add(action.slice(0, action.indexOf(':')).toLowerCase());
    }
    if (toArray(statement.Resource ?? []).includes('*')) for (const entry of entries) add(grants.onEveryResource, entry);
    if (statement.NotResource !== undefined) {
      const except = uniqueSorted(toArray(statement.NotResource)).join(', ');
      for (const entry of entries) add(grants.notResource, `${entry} except on ${except}`);
    }
  }
  return grants;
}

function allowedEntries(statement: PolicyStatement): string[] {
  if (statement.NotAction !== undefined) return [`* except ${uniqueSorted(toArray(statement.NotAction)).join(', ')}`];
  return toArray(statement.Action ?? []);
}

function add(map: Map<string, string>, entry: string): void {
  const key = entry.toLowerCase();
  if (!map.has(key)) map.set(key, entry);
}

/** Entries of `a` not in `b`, sorted case-insensitively. */
function missingFrom(a: Map<string, string>, b: Map<string, string>): string[] {
  return [...a]
    .filter(([key]) => !b.has(key))
    .map(([, spelling]) => spelling)
    .sort((x, y) => compareStrings(x.toLowerCase(), y.toLowerCase()) || compareStrings(x, y));
}

const newItems = (before: string[] | undefined, after: string[] | undefined) => (after ?? []).filter((x) => !(before ?? []).includes(x));

/**
 * The actions a role change adds and removes, and whether it widens access:
 * a "*" action, a whole service ("iam:*"), Resource "*", an allowing NotAction
 * or NotResource, a Deny taken away; and, for a role that existed before, a
 * service it could not reach, a managed policy, group or role ARN it did not
 * have, or its permissions boundary lifted or replaced. A new role's every
 * service and ARN is new, so for it only the wildcard reasons are raised: the
 * marker stays rare enough to be read. Undefined when there is nothing to say.
 */
export function policyDelta(before: RoleSpec | undefined, after: RoleSpec | undefined): PolicyDelta | undefined {
  const was = grantsOf(before);
  const now = grantsOf(after);
  const actionsAdded = missingFrom(now.allowed, was.allowed);
  const actionsRemoved = missingFrom(was.allowed, now.allowed);
  const reasons: string[] = [];

  if (after) {
    for (const entry of actionsAdded) {
      if (entry === '*') reasons.push('allows every action ("*")');
      else if (/^[^:*]+:\*$/.test(entry)) reasons.push(`allows every ${entry.slice(0, -2)} action ("${entry}")`);
      else if (entry.startsWith('* except ')) reasons.push(`allows every action except ${entry.slice('* except '.length)} (NotAction)`);
    }
    const onEveryResource = missingFrom(now.onEveryResource, was.onEveryResource);
    if (onEveryResource.length) reasons.push(`on every resource ("Resource": "*"): ${onEveryResource.join(', ')}`);
    for (const entry of missingFrom(now.notResource, was.notResource)) reasons.push(`allows ${entry} (NotResource)`);
    for (const entry of missingFrom(was.denied, now.denied)) reasons.push(`no longer denies ${entry}`);
  }

  if (before && after) {
    if (!was.everyService && !now.everyService) {
      for (const service of [...now.services].filter((s) => !was.services.has(s)).sort(compareStrings)) reasons.push(`new service "${service}"`);
    }
    for (const arn of newItems(before.policy_arns, after.policy_arns).sort(compareStrings)) reasons.push(`attaches managed policy ${arn}`);
    for (const group of newItems(before.iam_groups, after.iam_groups).sort(compareStrings)) reasons.push(`adds IAM group ${group}`);
    for (const arn of newItems(before.role_arns, after.role_arns).sort(compareStrings)) reasons.push(`may assume role ${arn}`);
    const [wasBoundary, nowBoundary] = [before.permissions_boundary_arn, after.permissions_boundary_arn];
    if (wasBoundary && !nowBoundary) reasons.push(`removes permissions boundary ${wasBoundary}`);
    else if (wasBoundary && nowBoundary && wasBoundary !== nowBoundary) reasons.push(`replaces permissions boundary ${wasBoundary} with ${nowBoundary}`);
  }

  if (!actionsAdded.length && !actionsRemoved.length && !reasons.length) return undefined;
  return { actionsAdded, actionsRemoved, widens: reasons.length > 0, reasons };
}
