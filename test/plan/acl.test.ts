/**
 * Vault's ACL rules as credops server applies them and the plan explains them
 * (issue #13): globs, `+` segments, Vault's priority between matching rules,
 * deny, policies merged; and the plan's "widens access".
 */
import { describe, expect, it } from 'vitest';
import { makePlan } from '../../src/plan/diff.js';
import { Acl } from '../../src/plan/acl.js';
import { renderMarkdown } from '../../src/plan/render-markdown.js';
import { renderText } from '../../src/plan/render-text.js';
import { parsePlanJson, renderJson } from '../../src/plan/render-json.js';
import type { AclPolicySpec, AppliedSnapshot } from '../../src/model/types.js';
import { validateWithHcl } from '../schema/helpers.js';

const policy = (name: string, paths: [string, string[]][]): AclPolicySpec => ({ name, source: `acl/${name}.hcl`, paths: paths.map(([path, capabilities]) => ({ path, capabilities })) });

describe('Acl', () => {
  it.each([
    ['an exact path', [['aws/creds/dev', ['read']]], 'aws/creds/dev', ['read']],
    ['an exact path is not a prefix', [['aws/creds/dev', ['read']]], 'aws/creds/dev-app', []],
    ['a trailing glob', [['aws/creds/dev-*', ['read']]], 'aws/creds/dev-app', ['read']],
    ['+ is one segment', [['aws/+/dev-app', ['read', 'update']]], 'aws/sts/dev-app', ['read', 'update']],
    ['+ is not two segments', [['aws/+/dev-app', ['read']]], 'aws/x/y/dev-app', []],
    ['the exact rule wins over a glob', [['aws/creds/*', ['read']], ['aws/creds/prod', ['deny']]], 'aws/creds/prod', []],
    ['the later first wildcard wins', [['aws/*', ['read']], ['aws/creds/prod-*', ['deny']]], 'aws/creds/prod-app', []],
    ['the later first wildcard wins, the other way', [['aws/*', ['deny']], ['aws/creds/dev-*', ['read']]], 'aws/creds/dev-app', ['read']],
    ['no glob wins over a glob at the same place', [['aws/+/x*', ['read']], ['aws/+/xy', ['update']]], 'aws/a/xy', ['update']],
    ['fewer + segments win', [['aws/+/+', ['read']], ['aws/+/dev', ['update']]], 'aws/creds/dev', ['update']],
  ] as [string, [string, string[]][], string, string[]][])('%s', (_what, rules, path, expected) => {
    expect([...new Acl([policy('p', rules)]).capabilities(path)].sort()).toEqual(expected.sort());
  });

  it('adds up the capabilities of one path in several policies, and deny in any of them empties them', () => {
    const a = policy('a', [['aws/creds/x', ['read']]]);
    const b = policy('b', [['aws/creds/x', ['update']]]);
    const c = policy('c', [['aws/creds/x', ['deny']]]);
    expect([...new Acl([a, b]).capabilities('aws/creds/x')].sort()).toEqual(['read', 'update']);
    expect([...new Acl([a, b, c]).capabilities('aws/creds/x')]).toEqual([]);
  });
});

describe('the plan of access changes', () => {
  const base = {
    'credops.yaml': 'version: 1\n',
    'roles/dev-app.json': { credential_type: 'iam_user', policy_arns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] },
    'roles/prod-app.json': { credential_type: 'iam_user', policy_arns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] },
    'auth/jwt/config.json': { jwks_url: 'https://issuer.example/jwks' },
    'auth/jwt/roles/ci.json': { bound_audiences: ['credops'], user_claim: 'sub', token_policies: ['dev'] },
    'auth/jwt/roles/ops.json': { bound_audiences: ['credops'], user_claim: 'sub', token_policies: ['ops'] },
    'acl/dev.hcl': 'path "aws/creds/dev-*" { capabilities = ["read"] }\n',
    'acl/ops.hcl': 'path "aws/creds/*" { capabilities = ["read"] }\n',
  };

  async function applied(files: Record<string, unknown>): Promise<AppliedSnapshot> {
    const { model } = await validateWithHcl(files);
    return { roles: model!.roles, sinks: model!.sinks, mounts: Object.values(model!.config.mounts), access: model!.access, serial: 1, commit: 'c1' };
  }

  it('marks a policy change that lets an auth role reach a role it could not, and says which paths it gains', async () => {
    const before = await applied(base);
    const { model } = await validateWithHcl({ ...base, 'acl/dev.hcl': 'path "aws/creds/*" { capabilities = ["read"] }\n' });
    const plan = makePlan(model!, before, []);
    expect(plan.accessGains).toEqual([{ authRole: 'jwt/ci', paths: ['aws/creds/prod-app'] }]);
    expect(plan.access).toEqual([
      {
        action: 'update',
        kind: 'acl policy',
        address: 'dev',
        source: 'acl/dev.hcl',
        fields: [{ field: 'path', before: ['aws/creds/dev-*: read'], after: ['aws/creds/*: read'] }],
        widens: ['auth role jwt/ci gains aws/creds/prod-app'],
      },
    ]);
    expect(plan.summary).toEqual({ add: 0, change: 1, destroy: 0 });
    const text = renderText(plan);
    expect(text).toContain('Access through credops server widens:\n\n  ! auth role jwt/ci gains aws/creds/prod-app');
    expect(text).toContain('~ acl policy dev (acl/dev.hcl)');
    expect(text).toContain('! widens access: auth role jwt/ci gains aws/creds/prod-app');
    expect(renderMarkdown(plan)).toContain('> **This plan widens access.**\n> - auth role jwt/ci gains aws/creds/prod-app');
    expect(parsePlanJson(renderJson(plan))).toEqual(plan);
  });

  it('counts a new role under an existing glob as gained, and a narrowing as no widening', async () => {
    const before = await applied(base);
    const { model } = await validateWithHcl({
      ...base,
      'roles/dev-new.json': { credential_type: 'iam_user', policy_arns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] },
      'acl/ops.hcl': 'path "aws/creds/dev-*" { capabilities = ["read"] }\n',
    });
    const plan = makePlan(model!, before, []);
    expect(plan.accessGains).toEqual([
      { authRole: 'jwt/ci', paths: ['aws/creds/dev-new'] },
      { authRole: 'jwt/ops', paths: ['aws/creds/dev-new'] },
    ]);
    expect(plan.access!.find((c) => c.address === 'ops')!.widens).toEqual(['auth role jwt/ops gains aws/creds/dev-new']);
  });

  it('shows a new auth role and everything it reaches', async () => {
    const before = await applied(base);
    const { model } = await validateWithHcl({ ...base, 'auth/jwt/roles/new.json': { bound_subject: 'repo:org/x:ref:refs/heads/main', user_claim: 'sub', token_policies: ['dev'] } });
    const plan = makePlan(model!, before, []);
    const created = plan.access!.find((c) => c.address === 'jwt/new')!;
    expect(created).toMatchObject({ action: 'create', kind: 'auth role', widens: ['auth role jwt/new gains aws/creds/dev-app'] });
    expect(renderText(plan)).toContain('+ auth role jwt/new (auth/jwt/roles/new.json)');
  });
});
