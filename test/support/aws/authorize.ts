/**
 * Allow-based evaluation of an IAM user's identity policies, as IAM does for
 * every request signed with a user's access key: an explicit Deny wins, else
 * an Allow is needed, else the request is implicitly denied. The endpoint does
 * this when started with `enforcePolicies` (a least-privilege root is a setup
 * credops supports). What it covers: the user's inline and attached managed
 * policies (AdministratorAccess as AWS defines it), Action and Resource with
 * wildcards, NotAction; and the one rule of resource-tagging that matters to
 * credops: CreateUser with Tags also needs iam:TagUser.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
 */
import { asList, wildcard } from './deny.js';
import { AwsError } from './errors.js';
import type { QueryParams } from './query.js';
import type { User, World } from './state.js';

const ADMINISTRATOR_ACCESS = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] });

interface Statement {
  Effect?: unknown;
  Action?: unknown;
  NotAction?: unknown;
  Resource?: unknown;
}

function statementsOf(document: string): Statement[] {
  try {
    const raw = (JSON.parse(document) as { Statement?: unknown }).Statement;
    return (Array.isArray(raw) ? raw : [raw]).filter((s): s is Statement => typeof s === 'object' && s !== null);
  } catch {
    return [];
  }
}

/** The user's own policies and those of its groups, as IAM evaluates them. */
function policiesOf(world: World, user: User): string[] {
  const managed = (arn: string) => (arn.endsWith(':policy/AdministratorAccess') ? ADMINISTRATOR_ACCESS : world.policies.get(arn)?.document ?? '{}');
  const groups = [...user.groups].map((key) => world.groups.get(key)).filter((g) => g !== undefined);
  return [
    ...user.inlinePolicies.values(),
    ...user.attachedPolicies.map(managed),
    ...groups.flatMap((g) => [...g.inlinePolicies.values(), ...g.attachedPolicies.map(managed)]),
  ];
}

function matches(st: Statement, action: string, resource: string): boolean {
  const actionOk = st.NotAction !== undefined ? !asList(st.NotAction).some((a) => wildcard(a, true).test(action)) : asList(st.Action).some((a) => wildcard(a, true).test(action));
  return actionOk && asList(st.Resource).some((r) => wildcard(r, false).test(resource));
}

/** `allowed` for one action on one resource, by the user's policies. */
export function decide(world: World, user: User, action: string, resource: string): 'allowed' | 'implicit' | 'explicit' {
  const statements = policiesOf(world, user).flatMap(statementsOf);
  if (statements.some((s) => s.Effect === 'Deny' && matches(s, action, resource))) return 'explicit';
  return statements.some((s) => s.Effect === 'Allow' && matches(s, action, resource)) ? 'allowed' : 'implicit';
}

/** The resource an IAM action acts on: the named user (or the caller), else "*". */
function resourceOf(world: World, caller: User, service: string, action: string, params: QueryParams | undefined): string {
  if (service !== 'iam') return '*';
  const name = params?.opt('UserName');
  if (name === undefined && !/User|AccessKey|LoginProfile|MFADevice|SSHPublicKey|SigningCertificate|ServiceSpecificCredential/.test(action)) return '*';
  const user = name === undefined ? caller : world.user(name);
  const path = user?.path ?? params?.opt('Path') ?? '/';
  return `arn:aws:iam::${world.accountId}:user${path}${user?.name ?? name}`;
}

/** Throws AccessDenied, worded as IAM words it, unless the user's policies allow the call. */
export function checkIdentityPolicy(world: World, user: User, service: string, action: string, params: QueryParams | undefined, protocol: 'query' | 'json'): void {
  if (service === 'sts' && action === 'GetCallerIdentity') return;
  const resource = resourceOf(world, user, service, action, params);
  const needed = [`${service}:${action}`];
  // "To add tags when you create a user, you must have iam:TagUser permission" (CreateUser's API reference).
  if (service === 'iam' && action === 'CreateUser' && params?.opt('Tags.member.1.Key') !== undefined) needed.push('iam:TagUser');
  for (const qualified of needed) {
    const outcome = decide(world, user, qualified, resource);
    if (outcome === 'allowed') continue;
    const why = outcome === 'explicit' ? 'with an explicit deny in an identity-based policy' : 'because no identity-based policy allows the ' + `${qualified} action`;
    const message = `User: ${user.arn} is not authorized to perform: ${qualified} on resource: ${resource} ${why}`;
    throw protocol === 'json' ? new AwsError('AccessDeniedException', message, 400) : new AwsError('AccessDenied', message, 403);
  }
}
