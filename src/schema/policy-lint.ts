import type { CredentialType, PolicyDocument, RoleSpec } from '../model/types.js';
import { closest } from './ajv-errors.js';
import { CREDENTIAL_TYPE_RULES, rulesOf, typesWhere } from './credential-types.js';
import type { Finding } from './finding.js';
import { IAM_SERVICE_PREFIXES } from './iam-service-prefixes.js';

/**
 * What AWS would refuse later, found now, and what is legal but dangerous.
 * Errors: limits AWS enforces on the calls the role leads to. Warnings:
 * full admin grants and actions of services IAM does not know (IAM accepts
 * them silently and they grant nothing, usually a typo).
 */

/** Size of a policy as IAM counts it: the compact JSON, whitespace not counted. */
export function policySize(doc: PolicyDocument): number {
  return JSON.stringify(doc).replace(/\s/g, '').length;
}

const POLICY_LIMITS = Object.values(CREDENTIAL_TYPE_RULES).flatMap((r) => (r.policy ? [r.policy.maxChars] : []));

/** Role-level limits; pointers are the role file's. */
export function lintRoleLimits(role: RoleSpec, policyPointer = '/policy_document'): Finding[] {
  const out: Finding[] = [];
  const types = role.credential_types;
  const where = role.policy_file ? ` (${role.policy_file})` : '';
  // Whitespace only shortens the count: below every limit as written, no need to strip it (10,000 roles).
  const written = role.policy_document ? JSON.stringify(role.policy_document).length : 0;
  const size = written > Math.min(...POLICY_LIMITS) ? policySize(role.policy_document!) : written;
  // Session policies and their ARNs go with every STS call of the role: one finding names them all.
  const { session, sessionMax, sessionArns, arnsMax } = sessionLimits(types);
  for (const type of types) {
    const { policy, policyArns, groupsMax } = rulesOf(type);
    if (policy?.as === 'inline' && size > policy.maxChars) {
      out.push({ pointer: policyPointer, message: `policy document${where} is ${size} characters without whitespace; AWS accepts at most ${policy.maxChars} for an ${type} inline policy` });
    }
    if (policyArns?.as === 'attached' && role.policy_arns.length > policyArns.max) {
      out.push({ pointer: '/policy_arns', message: `${role.policy_arns.length} policy_arns; AWS attaches at most ${policyArns.max} managed policies to an IAM user` });
    }
    if (groupsMax !== undefined && role.iam_groups.length > groupsMax) {
      out.push({ pointer: '/iam_groups', message: `${role.iam_groups.length} iam_groups; an IAM user can be in at most ${groupsMax} groups` });
    }
  }
  if (size > sessionMax) {
    out.push({ pointer: policyPointer, message: `policy document${where} is ${size} characters without whitespace; AWS accepts at most ${sessionMax} for an STS session policy (${session.join(', ')})` });
  }
  if (role.policy_arns.length > arnsMax) {
    out.push({ pointer: '/policy_arns', message: `${role.policy_arns.length} policy_arns; AWS accepts at most ${arnsMax} session policy ARNs for ${sessionArns.join(', ')}` });
  }
  return out;
}

/** The session limits of a combination of credential types: a handful of combinations, worked out once each (10,000 roles, issue #11). */
function sessionLimits(types: readonly CredentialType[]) {
  const key = types.join(',');
  let limits = limitsOf.get(key);
  if (!limits) {
    const session = typesWhere(types, (r) => r.policy?.as === 'session');
    const sessionArns = typesWhere(types, (r) => r.policyArns?.as === 'session');
    limits = {
      session,
      sessionMax: session.length ? rulesOf(session[0]!).policy!.maxChars : Infinity,
      sessionArns,
      arnsMax: sessionArns.length ? rulesOf(sessionArns[0]!).policyArns!.max : Infinity,
    };
    limitsOf.set(key, limits);
  }
  return limits;
}

const limitsOf = new Map<string, { session: CredentialType[]; sessionMax: number; sessionArns: CredentialType[]; arnsMax: number }>();

/** Statement-level checks of one policy document; pointers are relative to the document. */
export function lintPolicyDocument(doc: PolicyDocument): Finding[] {
  const out: Finding[] = [];
  const statements = Array.isArray(doc.Statement) ? doc.Statement.map((s, i) => [s, `/Statement/${i}`] as const) : [[doc.Statement, '/Statement'] as const];
  for (const [st, at] of statements) {
    for (const key of ['Principal', 'NotPrincipal'] as const) {
      if (st[key] !== undefined) {
        out.push({ pointer: `${at}/${key}`, at: 'key', message: `${key} is not allowed in an IAM user or session policy (AWS: "Policy document should not specify a principal")` });
      }
    }
    const actions = list(st.Action);
    const resources = list(st.Resource);
    if (st.Effect === 'Allow' && actions.includes('*') && resources.includes('*')) {
      out.push({ pointer: `${at}/Action`, severity: 'warning', message: 'allows every action on every resource (Action "*" with Resource "*"): this is full administrator access' });
    }
    for (const key of ['Action', 'NotAction'] as const) {
      const value = st[key];
      list(value).forEach((action, i) => {
        if (action === '*') return;
        const prefix = action.slice(0, action.indexOf(':')).toLowerCase();
        if (/[*?]/.test(prefix) || IAM_SERVICE_PREFIXES.has(prefix)) return;
        const guess = closest(prefix, [...IAM_SERVICE_PREFIXES]);
        out.push({
          pointer: Array.isArray(value) ? `${at}/${key}/${i}` : `${at}/${key}`,
          severity: 'warning',
          message: `unknown IAM service prefix "${prefix}" in "${action}"${guess ? ` (did you mean "${guess}"?)` : ''}; IAM would accept it and grant nothing`,
        });
      });
    }
  }
  return out;
}

function list(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** Prefixes every pointer of findings made relative to a document embedded at `base`. */
export function rebase(findings: Finding[], base: string): Finding[] {
  return base === '' ? findings : findings.map((f) => ({ ...f, pointer: base + f.pointer }));
}

