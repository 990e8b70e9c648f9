import type { PolicyDocument } from '../model/types.js';
import type { RoleFile } from '../model/schema-types.js';
import { policyReference } from '../schema/cross-file.js';
import { toDiagnostics, type Finding } from '../schema/finding.js';
import { parseJsonSource } from '../schema/json-source.js';
import { lintPolicyDocument, rebase } from '../schema/policy-lint.js';
import type { SourceFile } from '../schema/source-file.js';
import { validateAgainstSchema } from '../schema/validate-document.js';
import { legacyOf } from '../schema/vault-values.js';
import type { LoadContext } from './context.js';

const POLICY_FILE = /^policies\/.+\.json$/;

/** policies/*.json by path; `doc` is undefined for a file with an error (reported). */
export type PolicyFiles = Map<string, { doc?: PolicyDocument }>;

export function loadPolicies(ctx: LoadContext): PolicyFiles {
  const policies: PolicyFiles = new Map();
  for (const file of ctx.matching(POLICY_FILE)) {
    const source = ctx.parse(file);
    const doc = source ? ctx.check<PolicyDocument>(source, 'policy') : undefined;
    if (source && doc) ctx.diagnostics.push(...toDiagnostics(source, lintPolicyDocument(doc)));
    policies.set(file.path, { doc: doc ? withoutSchemaKey(doc) : undefined });
  }
  return policies;
}

export type ResolvedPolicy = { field: 'policy_document' | 'policy'; doc: PolicyDocument; file?: string } | undefined;

/**
 * The role's policy as a document: inline object, JSON string (Vault's form,
 * checked against the policy schema with positions inside the string), or
 * "@policies/NAME.json". Reports problems; 'invalid' when there was one.
 */
export function resolveRolePolicy(ctx: LoadContext, raw: RoleFile, source: SourceFile, policies: PolicyFiles): ResolvedPolicy | 'invalid' {
  const legacy = legacyOf(raw);
  const field = legacy?.field === 'policy' ? 'policy' : 'policy_document';
  const value = field === 'policy' ? raw.policy : raw.policy_document;
  const pointer = `/${field}`;
  if (value === null || value === undefined || value === '') return undefined;

  if (typeof value === 'object') {
    const doc = withoutSchemaKey(value as PolicyDocument);
    const lint = rebase(lintPolicyDocument(doc), pointer);
    ctx.diagnostics.push(...toDiagnostics(source, lint));
    return lint.some((f) => f.severity !== 'warning') ? 'invalid' : { field, doc };
  }

  const ref = policyReference(value);
  if (ref !== undefined) {
    const policy = policies.get(ref);
    if (!policy) {
      ctx.diagnostics.push(...toDiagnostics(source, [{ pointer, message: `policy file ${ref} does not exist` }]));
      return 'invalid';
    }
    // Each role gets its own copy: later stages must not see one role's edits in another.
    return policy.doc ? { field, doc: structuredClone(policy.doc), file: ref } : 'invalid';
  }

  // A JSON string: map positions inside the string back to the role file.
  const inner = source.textPosition?.(pointer) ?? (() => source.position(pointer));
  const embedded = parseJsonSource(source.path, value, inner);
  if (embedded.value === undefined) {
    ctx.diagnostics.push(...embedded.diagnostics.map((d) => ({ ...d, pointer, message: `is not valid JSON: ${d.message.replace(/^invalid JSON: /, '')}` })));
    return 'invalid';
  }
  const findings: Finding[] = [...validateAgainstSchema('policy', embedded.value)];
  if (findings.length === 0) findings.push(...lintPolicyDocument(embedded.value as PolicyDocument));
  ctx.diagnostics.push(...toDiagnostics(embedded, findings).map((d) => ({ ...d, pointer: pointer + d.pointer })));
  return findings.some((f) => f.severity !== 'warning') ? 'invalid' : { field, doc: withoutSchemaKey(embedded.value as PolicyDocument) };
}

/** "$schema" is for editors; AWS refuses unknown keys in a policy. */
function withoutSchemaKey(doc: PolicyDocument): PolicyDocument {
  if (!Object.hasOwn(doc, '$schema')) return doc;
  const { $schema: _schema, ...rest } = doc as PolicyDocument & { $schema?: string };
  return rest;
}
