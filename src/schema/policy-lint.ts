import {
  IAM_GROUPS_PER_USER,
  IAM_MANAGED_POLICIES_PER_USER,
  IAM_USER_INLINE_POLICY_MAX_CHARS,
  STS_POLICY_ARNS_MAX,
  STS_SESSION_POLICY_MAX_CHARS,
} from '../limits.js';
import type { PolicyDocument, RoleSpec } from '../model/types.js';
import { closest } from './ajv-errors.js';
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

/** Role-level limits; pointers are the role file's. */
export function lintRoleLimits(role: RoleSpec, policyPointer = '/policy_document'): Finding[] {
  const out: Finding[] = [];
  const types = role.credential_types;
  const sts = types.filter((t) => t === 'assumed_role' || t === 'federation_token');
  const where = role.policy_file ? ` (${role.policy_file})` : '';
  if (role.policy_document) {
    const size = policySize(role.policy_document);
    if (types.includes('iam_user') && size > IAM_USER_INLINE_POLICY_MAX_CHARS) {
      out.push({ pointer: policyPointer, message: `policy document${where} is ${size} characters without whitespace; AWS accepts at most ${IAM_USER_INLINE_POLICY_MAX_CHARS} for an iam_user inline policy` });
    }
    if (sts.length > 0 && size > STS_SESSION_POLICY_MAX_CHARS) {
      out.push({ pointer: policyPointer, message: `policy document${where} is ${size} characters without whitespace; AWS accepts at most ${STS_SESSION_POLICY_MAX_CHARS} for an STS session policy (${sts.join(', ')})` });
    }
  }
  if (sts.length > 0 && role.policy_arns.length > STS_POLICY_ARNS_MAX) {
    out.push({ pointer: '/policy_arns', message: `${role.policy_arns.length} policy_arns; AWS accepts at most ${STS_POLICY_ARNS_MAX} session policy ARNs for ${sts.join(', ')}` });
  }
  if (types.includes('iam_user') && role.policy_arns.length > IAM_MANAGED_POLICIES_PER_USER) {
    out.push({ pointer: '/policy_arns', message: `${role.policy_arns.length} policy_arns; AWS attaches at most ${IAM_MANAGED_POLICIES_PER_USER} managed policies to an IAM user` });
  }
  if (types.includes('iam_user') && role.iam_groups.length > IAM_GROUPS_PER_USER) {
    out.push({ pointer: '/iam_groups', message: `${role.iam_groups.length} iam_groups; an IAM user can be in at most ${IAM_GROUPS_PER_USER} groups` });
  }
  return out;
}

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

