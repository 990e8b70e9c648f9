import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/errors.js';
import { validateSnapshot } from '../../src/load/index.js';
import { reusableRoles } from '../../src/load/reuse.js';
import type { RoleSpec } from '../../src/model/types.js';
import { POLICY, snapshotOf } from '../schema/helpers.js';

/**
 * A plan reuses an applied role whose file (and @policies file) did not change
 * since it was applied (src/load/reuse.ts); any other file is checked in full.
 */
const WIDE = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };
const files = {
  'roles/plain.json': { credential_type: 'iam_user', policy_document: POLICY },
  'roles/shared.json': { credential_type: 'federation_token', policy_document: '@policies/p.json' },
  'roles/loud.json': { credential_type: 'iam_user', policy_document: WIDE },
  'policies/p.json': POLICY,
};

function applyOnce(input: Record<string, unknown>): RoleSpec[] {
  // What reconcile stores: every role with its digest (reuse given, nothing to reuse yet).
  const { model } = validateSnapshot(snapshotOf(input), new Map());
  return structuredClone(model!.roles);
}

describe('reusing applied roles', () => {
  it('reuses every unchanged role, with the warnings its file had', () => {
    const applied = applyOnce(files);
    expect(applied.every((r) => typeof r.source_digest === 'string')).toBe(true);
    const fresh = validateSnapshot(snapshotOf(files));
    const again = validateSnapshot(snapshotOf(files), reusableRoles(applied));
    expect(again.model!.roles.map((r) => r.name)).toEqual(fresh.model!.roles.map((r) => r.name));
    for (const role of again.model!.roles) expect(role).toBe(applied.find((a) => a.name === role.name));
    expect(again.diagnostics.map(formatDiagnostic)).toEqual(fresh.diagnostics.map(formatDiagnostic));
    expect(fresh.diagnostics.some((d) => d.file === 'roles/loud.json' && d.severity === 'warning')).toBe(true);
  });

  it('checks a changed file again, and so reports what is wrong in it now', () => {
    const applied = applyOnce(files);
    const changed = { ...files, 'roles/plain.json': { credential_type: 'iam_user', policy_document: POLICY, max_sts_ttl: 'soon' } };
    const { model, diagnostics } = validateSnapshot(snapshotOf(changed), reusableRoles(applied));
    expect(model).toBeUndefined();
    expect(diagnostics.map(formatDiagnostic).join('\n')).toContain('roles/plain.json');
  });

  it('checks a role again when its @policies file changed, even though the role file did not', () => {
    const applied = applyOnce(files);
    const wider = { ...files, 'policies/p.json': { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ec2:*', Resource: '*' }] } };
    const { model } = validateSnapshot(snapshotOf(wider), reusableRoles(applied));
    const shared = model!.roles.find((r) => r.name === 'shared')!;
    expect(shared).not.toBe(applied.find((a) => a.name === 'shared'));
    expect(shared.policy_document).toEqual(wider['policies/p.json']);
  });

  it('does not reuse a role whose file moved to another mount, or a spec stored without a digest', () => {
    const applied = applyOnce(files).map((r) => (r.name === 'loud' ? { ...r, source_digest: undefined } : r));
    const moved = { ...files, 'credops.yaml': 'version: 1\nmounts:\n  aws:\n    roles: "roles/p*.json"\n  other:\n    roles: "roles/s*.json"\n', 'roles/loud.json': undefined };
    delete (moved as Record<string, unknown>)['roles/loud.json'];
    const { model } = validateSnapshot(snapshotOf(moved), reusableRoles(applied));
    expect(model!.roles.find((r) => r.name === 'shared')!.mount).toBe('other');
    expect(model!.roles.find((r) => r.name === 'shared')).not.toBe(applied.find((a) => a.name === 'shared'));
    expect(model!.roles.find((r) => r.name === 'plain')).toBe(applied.find((a) => a.name === 'plain'));
    expect(reusableRoles(applied).has('aws\u0000loud')).toBe(false);
  });
});
