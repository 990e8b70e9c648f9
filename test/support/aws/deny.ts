/**
 * Explicit Deny in identity-based policies, for requests signed with STS temporary credentials:
 * enough of IAM's policy evaluation to prove that a revoked session is refused while others work.
 * The principal a session derives from carries the policies: the role for an assumed-role
 * session, the IAM user for federation and session tokens. Allows are not evaluated (any valid
 * credential may call any action), so only a Deny changes an answer.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
 */
import { AwsError } from './errors.js';
import type { Session, World } from './state.js';

/** The request context keys a Deny statement may test here; any other key makes its condition false. */
export interface RequestContext {
  'aws:userid': string;
  'aws:TokenIssueTime'?: string;
}

type Operator = (actual: string, expected: string) => boolean;

const dateOf = (s: string): number => (/^\d+$/.test(s) ? Number(s) * 1000 : Date.parse(s));

const OPERATORS: Record<string, Operator> = {
  StringEquals: (a, e) => a === e,
  StringLike: (a, e) => wildcard(e, false).test(a),
  DateGreaterThanEquals: (a, e) => dateOf(a) >= dateOf(e),
  DateLessThanEquals: (a, e) => dateOf(a) <= dateOf(e),
};

export function wildcard(pattern: string, ignoreCase: boolean): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, ignoreCase ? 'i' : '');
}

export const asList = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : []);

/** Every operator and key of the Condition must match; within one key, any of its values (IAM's rules). */
function conditionMatches(condition: unknown, ctx: RequestContext): boolean {
  if (condition === undefined) return true;
  if (typeof condition !== 'object' || condition === null) return false;
  for (const [operator, keys] of Object.entries(condition as Record<string, unknown>)) {
    const test = OPERATORS[operator];
    if (!test || typeof keys !== 'object' || keys === null) return false;
    for (const [key, expected] of Object.entries(keys as Record<string, unknown>)) {
      // A key absent from the request (aws:TokenIssueTime for long-term keys) makes the condition false.
      const actual = Object.hasOwn(ctx, key) ? ctx[key as keyof RequestContext] : undefined;
      if (actual === undefined || !asList(expected).some((e) => test(actual, e))) return false;
    }
  }
  return true;
}

/** Whether one policy document holds a Deny statement for this action and request. */
export function denies(document: string, action: string, ctx: RequestContext): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(document);
  } catch {
    return false;
  }
  const raw = (parsed as { Statement?: unknown }).Statement;
  const statements = Array.isArray(raw) ? raw : [raw];
  return statements.some((s) => {
    if (typeof s !== 'object' || s === null) return false;
    const st = s as { Effect?: unknown; Action?: unknown; Condition?: unknown };
    if (st.Effect !== 'Deny') return false;
    if (!asList(st.Action).some((a) => wildcard(a, true).test(action))) return false;
    return conditionMatches(st.Condition, ctx);
  });
}

/** The inline policies of the principal a session derives from. */
function principalPolicies(world: World, session: Session): Iterable<string> {
  if (session.kind === 'assumed-role') {
    const role = [...world.roles.values()].find((r) => r.arn === session.roleArn);
    return role?.inlinePolicies.values() ?? [];
  }
  const user = session.sourceUserName !== undefined ? world.user(session.sourceUserName) : undefined;
  return user?.inlinePolicies.values() ?? [];
}

/**
 * Throws AccessDenied when an explicit Deny refuses `service:Action` to this session.
 * GetCallerIdentity is never refused: AWS documents that a Deny on sts:GetCallerIdentity has no effect.
 */
export function checkExplicitDeny(world: World, session: Session, service: string, action: string, protocol: 'query' | 'json'): void {
  if (service === 'sts' && action === 'GetCallerIdentity') return;
  const ctx: RequestContext = {
    'aws:userid': session.userId,
    'aws:TokenIssueTime': new Date(session.createDate).toISOString(),
  };
  const qualified = `${service}:${action}`;
  for (const doc of principalPolicies(world, session)) {
    if (!denies(doc, qualified, ctx)) continue;
    const message = `User: ${session.arn} is not authorized to perform: ${qualified} with an explicit deny in an identity-based policy`;
    throw protocol === 'json' ? new AwsError('AccessDeniedException', message, 400) : new AwsError('AccessDenied', message, 403);
  }
}
