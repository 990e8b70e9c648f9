/**
 * credops server's access files (issue #13): auth/MOUNT/config.json and
 * auth/MOUNT/roles/NAME.json in Vault's JWT auth format, acl/NAME.hcl in
 * Vault's policy syntax, parsed by HashiCorp's HCL parser. Every problem is
 * reported at file:line:col, with Vault's words where Vault has them.
 */
import { describe, expect, it } from 'vitest';
import { validateWithHcl } from './helpers.js';

const CONFIG = { 'credops.yaml': 'version: 1\n', 'auth/jwt/config.json': { oidc_discovery_url: 'https://token.actions.githubusercontent.com', bound_issuer: 'https://token.actions.githubusercontent.com' } };
const ROLE = { bound_audiences: ['credops'], bound_claims: { repository: 'org/a' }, user_claim: 'repository', token_policies: ['dev'], token_ttl: '10m', token_max_ttl: '1h' };
const DEV = 'path "aws/creds/dev-*" {\n  capabilities = ["read"]\n}\n\npath "aws/creds/prod-*" {\n  capabilities = ["deny"]\n}\n';

describe('auth and ACL files', () => {
  it('load into the model: durations in seconds, Vault defaults filled in, HCL and JSON policies alike', async () => {
    const { model, errors, warnings } = await validateWithHcl({
      ...CONFIG,
      'auth/jwt/roles/ci.json': ROLE,
      'acl/dev.hcl': DEV,
      'acl/ops.json': { path: { 'sys/leases/revoke-prefix/aws/*': { capabilities: ['update', 'sudo'] } } },
    });
    expect(errors).toEqual([]);
    expect(warnings).toEqual([]);
    expect(model!.access).toEqual({
      auth: [{ name: 'jwt', type: 'jwt', source: 'auth/jwt/config.json', oidc_discovery_url: 'https://token.actions.githubusercontent.com', bound_issuer: 'https://token.actions.githubusercontent.com' }],
      roles: [
        {
          mount: 'jwt',
          name: 'ci',
          source: 'auth/jwt/roles/ci.json',
          bound_audiences: ['credops'],
          bound_claims: { repository: ['org/a'] },
          bound_claims_type: 'string',
          user_claim: 'repository',
          claim_mappings: {},
          token_policies: ['dev'],
          token_ttl: 600,
          token_max_ttl: 3600,
          clock_skew_leeway: 60,
          expiration_leeway: 150,
          not_before_leeway: 150,
        },
      ],
      acl: [
        { name: 'dev', source: 'acl/dev.hcl', paths: [{ path: 'aws/creds/dev-*', capabilities: ['read'] }, { path: 'aws/creds/prod-*', capabilities: ['deny'] }] },
        { name: 'ops', source: 'acl/ops.json', paths: [{ path: 'sys/leases/revoke-prefix/aws/*', capabilities: ['sudo', 'update'] }] },
      ],
    });
  });

  it.each([
    ['an HCL syntax error, at its line and column', { 'acl/dev.hcl': 'path "aws/creds/dev-*" {\n  capabilities = [\n' }, 'acl/dev.hcl:3:1: error: HCL syntax: Missing expression'],
    ['an unknown capability, at the value', { 'acl/dev.hcl': 'path "aws/creds/dev-*" {\n  capabilities = ["read", "reed"]\n}\n' }, 'acl/dev.hcl:2:27: error: /path/aws~1creds~1dev-*/0/capabilities/1 must be one of create, read, update, patch, delete, list, sudo, deny'],
    ['a * inside a path', { 'acl/dev.hcl': 'path "aws/*/dev" {\n  capabilities = ["read"]\n}\n' }, 'acl/dev.hcl:1:6: error: /path/aws~1*~1dev path "aws/*/dev": a "*" may only end a path (use "+" for one segment in the middle)'],
    ['an unknown key in a JSON policy', { 'acl/dev.json': { path: { 'aws/creds/x': { capabilities: ['read'], allowed_parameters: {} } } } }, 'acl/dev.json:7:7: error: /path/aws~1creds~1x/allowed_parameters unknown field "allowed_parameters"; expected one of capabilities'],
    ['a role with no bound constraint', { 'auth/jwt/roles/ci.json': { user_claim: 'sub', token_policies: ['dev'] } }, 'auth/jwt/roles/ci.json:1:1: error: must have at least one bound constraint when creating/updating a role'],
    ['a token_ttl over token_max_ttl', { 'auth/jwt/roles/ci.json': { ...ROLE, token_ttl: '2h' } }, 'auth/jwt/roles/ci.json:12:16: error: /token_ttl ttl should not be greater than max ttl'],
    ['a role without its config', { 'auth/k8s/roles/ci.json': ROLE }, 'auth/k8s/roles/ci.json:1:1: error: auth/k8s/config.json is missing'],
    ['two key sources in a config', { 'auth/jwt/config.json': { oidc_discovery_url: 'https://a.example', jwks_url: 'https://a.example/jwks' } }, "auth/jwt/config.json:3:15: error: /jwks_url exactly one of 'jwt_validation_pubkeys', 'jwks_url' or 'oidc_discovery_url' must be set"],
    ['a misspelt role field', { 'auth/jwt/roles/ci.json': { ...ROLE, bound_audience: ['x'] } }, 'auth/jwt/roles/ci.json:14:3: error: /bound_audience unknown field "bound_audience" (did you mean "bound_audiences"?)'],
    ['a bad rate', { 'auth/jwt/roles/ci.json': { ...ROLE, max_issue_rate: 'ten per minute' } }, 'must be a count per period such as "10/m"'],
  ])('reject %s', async (_what, files, expected) => {
    const { model, errors } = await validateWithHcl({ ...CONFIG, 'acl/dev.hcl': DEV, 'auth/jwt/roles/ok.json': ROLE, ...files });
    expect(model).toBeUndefined();
    expect(errors.join('\n')).toContain(expected);
  });

  it("read Vault's Kubernetes auth method and roles as service account logins against the cluster's issuer", async () => {
    const { model, errors } = await validateWithHcl({
      ...CONFIG,
      'acl/dev.hcl': DEV,
      'auth/kubernetes/config.json': { kubernetes_host: 'https://10.0.0.1:443', issuer: 'https://oidc.eks.us-east-1.amazonaws.com/id/ABC' },
      'auth/kubernetes/roles/billing.json': { bound_service_account_names: ['billing', 'billing-*'], bound_service_account_namespaces: 'apps', audience: 'credops', token_policies: ['dev'], token_ttl: 900 },
    });
    expect(errors).toEqual([]);
    expect(model!.access!.auth.find((a) => a.name === 'kubernetes')).toEqual({
      name: 'kubernetes',
      type: 'kubernetes',
      source: 'auth/kubernetes/config.json',
      kubernetes_host: 'https://10.0.0.1:443',
      oidc_discovery_url: 'https://oidc.eks.us-east-1.amazonaws.com/id/ABC',
      bound_issuer: 'https://oidc.eks.us-east-1.amazonaws.com/id/ABC',
    });
    expect(model!.access!.roles.find((r) => r.mount === 'kubernetes')).toMatchObject({
      name: 'billing',
      bound_audiences: ['credops'],
      user_claim: 'sub',
      token_ttl: 900,
      bound_service_accounts: { names: ['billing', 'billing-*'], namespaces: ['apps'], alias: 'serviceaccount_uid' },
    });
    const bad = await validateWithHcl({
      ...CONFIG,
      'auth/kubernetes/config.json': { kubernetes_host: 'https://10.0.0.1:443', token_reviewer_jwt: 'eyJ...' },
      'auth/kubernetes/roles/billing.json': { bound_service_account_names: ['*', 'x'], bound_service_account_namespaces: ['apps'] },
    });
    expect(bad.errors).toEqual([
      'auth/kubernetes/config.json:3:25: error: /token_reviewer_jwt is not supported by credops: credops verifies tokens with the issuer\'s keys and calls no TokenReview API',
      'auth/kubernetes/roles/billing.json:2:34: error: /bound_service_account_names can not mix "*" with values',
    ]);
  });

  it("take Vault's leeways: unset or 0 is the default (60 s for iat, 150 s for exp and nbf), -1 is none", async () => {
    const { model } = await validateWithHcl({ ...CONFIG, 'acl/dev.hcl': DEV, 'auth/jwt/roles/ci.json': { ...ROLE, clock_skew_leeway: 0, expiration_leeway: -1, not_before_leeway: '30s' } });
    expect(model!.access!.roles[0]).toMatchObject({ clock_skew_leeway: 60, expiration_leeway: 0, not_before_leeway: 30 });
  });

  it('warn of a token policy no file defines', async () => {
    const { model, warnings } = await validateWithHcl({ ...CONFIG, 'auth/jwt/roles/ci.json': { ...ROLE, token_policies: ['dev', 'ops'] }, 'acl/dev.hcl': DEV });
    expect(model).toBeDefined();
    expect(warnings).toEqual(['auth/jwt/roles/ci.json:11:5: warning: /token_policies/1 there is no ACL policy "ops" (acl/ops.hcl); it grants nothing']);
  });
});
