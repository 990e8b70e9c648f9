import { credentialPaths, reachablePaths } from '../../src/plan/acl.js';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { simpleGit } from 'simple-git';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic, ValidationError } from '../../src/errors.js';
import { loadDesired } from '../../src/load/index.js';
import { validate } from '../schema/helpers.js';

const root = new URL('../../', import.meta.url).pathname;

describe('examples/basic', () => {
  it('validates: every credential type, a second mount, a shared policy file, both sink types', async () => {
    const { model, warnings } = await loadDesired({ repo: 'examples/basic', cwd: root });
    expect(warnings).toEqual([]);
    expect(Object.keys(model.config.mounts)).toEqual(['aws', 'aws-us-west-2']);
    expect(model.config.mounts['aws-us-west-2']).toMatchObject({ region: 'us-west-2', roles: 'roles/us-west-2/*.json', lease: 2764800 });
    expect(model.roles.map((r) => `${r.mount}/${r.name}:${r.credential_types.join(',')}`)).toEqual([
      'aws/breakglass:session_token',
      'aws/ci:assumed_role',
      'aws/deploy:iam_user',
      'aws/support:federation_token',
      'aws-us-west-2/analytics:assumed_role',
    ]);
    expect(model.roles.filter((r) => r.policy_file === 'policies/s3-artifacts-read.json').map((r) => r.name)).toEqual(['deploy', 'analytics']);
    expect(model.sinks.map((s) => `${s.name}:${s.type}->${s.mount}/${s.role}`)).toEqual(['ci-deploy:secretsmanager->aws/ci', 'local-dev:file->aws/deploy']);
  });
});

describe('examples/multi-account', () => {
  it('validates: one mount per AWS account, each acting through its role_arn', async () => {
    const { model, warnings } = await loadDesired({ repo: 'examples/multi-account', cwd: root });
    expect(warnings).toEqual([]);
    expect(model.config.mounts['aws-prod']).toMatchObject({ role_arn: 'arn:aws:iam::222222222222:role/credops', external_id: 'credops-prod', session_name: 'credops-prod' });
    expect(model.config.mounts['aws-staging']).toMatchObject({ role_arn: 'arn:aws:iam::111111111111:role/credops', external_id: 'credops-staging' });
    expect(model.roles.map((r) => `${r.mount}/${r.name}`)).toEqual(['aws-prod/deploy', 'aws-staging/deploy']);
  });
});

describe('examples/service', () => {
  it('validates: GitHub and Kubernetes identities, ACL policies in HCL, caps; the deploy job reaches staging only', async () => {
    const { model, warnings } = await loadDesired({ repo: 'examples/service', cwd: root });
    expect(warnings).toEqual([]);
    expect(model.access!.auth.map((a) => `${a.name}:${a.type}`)).toEqual(['jwt:jwt', 'kubernetes:kubernetes']);
    expect(model.roles.find((r) => r.name === 'app-staging')).toMatchObject({ max_leases: 10, max_issue_rate: { count: 30, periodSeconds: 3600 } });
    const reach = reachablePaths(model.access, credentialPaths(model.roles, model.staticRoles ?? []));
    expect(Object.fromEntries(reach)).toEqual({ 'jwt/deploy-app': ['aws/creds/app-staging'], 'kubernetes/billing': ['aws/creds/billing', 'aws/sts/billing'] });
  });
});

describe('examples/vault-export: files as `vault read -format=json aws/roles/X | jq .data` prints them', () => {
  it('validate unchanged, and their empty values mean "not set"', async () => {
    const { model, warnings } = await loadDesired({ repo: 'examples/vault-export', cwd: root });
    expect(warnings).toEqual([]);
    const byName = Object.fromEntries(model.roles.map((r) => [r.name, r]));
    expect(Object.keys(byName)).toEqual(['deployer', 'ec2-user', 'legacy', 'readonly-federation', 'session']);
    expect(byName.legacy?.credential_types).toEqual(['iam_user', 'federation_token']);
    expect(byName['ec2-user']).toEqual({
      mount: 'aws',
      name: 'ec2-user',
      source: 'roles/ec2-user.json',
      credential_types: ['iam_user'],
      policy_document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ec2:Describe*', Resource: '*' }] },
      policy_arns: [],
      iam_groups: ['developers'],
      role_arns: [],
      iam_tags: { team: 'platform' },
      session_tags: {},
    });
    expect(byName.deployer).toMatchObject({ default_sts_ttl: 3600, max_sts_ttl: 43200, external_id: 'example-external-id', session_tags: { team: 'platform' } });
  });
});

describe('normalisation', () => {
  it('maps legacy fields, splits comma strings, parses TTLs and tags', () => {
    const { model } = validate({
      'roles/legacy-arn.json': { arn: 'arn:aws:iam::123456789012:role/old' },
      'roles/legacy-policy-arn.json': { arn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' },
      'roles/legacy-policy.json': { policy: '{"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}' },
      'roles/comma.json': {
        credential_type: 'assumed_role',
        role_arns: 'arn:aws:iam::123456789012:role/a, arn:aws:iam::123456789012:role/b,',
        policy_arns: '',
        iam_groups: 'g1,g2',
        default_sts_ttl: '1h30m',
        max_sts_ttl: '7200',
        session_tags: ['team=a=b', 'env='],
      },
    });
    const byName = Object.fromEntries((model?.roles ?? []).map((r) => [r.name, r]));
    expect(byName['legacy-arn']).toMatchObject({ credential_types: ['assumed_role'], role_arns: ['arn:aws:iam::123456789012:role/old'], policy_arns: [] });
    expect(byName['legacy-policy-arn']).toMatchObject({ credential_types: ['iam_user'], policy_arns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] });
    expect(byName['legacy-policy']).toMatchObject({ credential_types: ['iam_user', 'federation_token'], policy_document: { Statement: { Effect: 'Allow', Action: 's3:*', Resource: '*' } } });
    expect(byName.comma).toMatchObject({
      role_arns: ['arn:aws:iam::123456789012:role/a', 'arn:aws:iam::123456789012:role/b'],
      policy_arns: [],
      iam_groups: ['g1', 'g2'],
      default_sts_ttl: 5400,
      max_sts_ttl: 7200,
      session_tags: { team: 'a=b', env: '' },
    });
  });
});

describe('loadDesired', () => {
  it('a repo with three broken files: every problem, with file:line:col, sorted, as one ValidationError', async () => {
    const err = await loadDesired({ repo: 'test/fixtures/repos/three-broken', cwd: root }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    const lines = (err as ValidationError).diagnostics.map(formatDiagnostic);
    expect(lines).toEqual([
      'roles/ci.json:4:22: error: /default_sts_ttl must be a number of seconds or a duration such as 900, "15m", "1h", "768h" (found "1 hour")',
      'roles/ec2.json:4:22: error: /credential_type must be one of iam_user, assumed_role, federation_token, session_token (found "iam-user")',
      'roles/ok.json:3:22: error: /policy_document policy file policies/s3.json does not exist',
      'sinks/dev.yaml:4:11: error: /file/format must be one of ini, json, dotenv (found "xml")',
    ]);
    expect((err as ValidationError).message).toBe('4 errors in the secrets repo; nothing was applied');
  });

  it('reads a git URL at a ref and records the commit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credops-desired-'));
    try {
      const origin = join(dir, 'origin');
      mkdirSync(join(origin, 'roles'), { recursive: true });
      const git = simpleGit(origin);
      await git.init(['--initial-branch=main']);
      await git.addConfig('user.name', 'credops test');
      await git.addConfig('user.email', 'test@example.com');
      await git.addConfig('commit.gpgsign', 'false');
      writeFileSync(join(origin, 'roles/deploy.json'), '{"credential_type": "iam_user"}');
      await git.add('.');
      await git.commit('add deploy');
      const sha = (await git.revparse(['HEAD'])).trim();
      const { model } = await loadDesired({ repo: pathToFileURL(origin).href, ref: 'main', cacheDir: join(dir, 'cache') });
      expect(model.commit).toBe(sha);
      expect(model.repo).toBe(pathToFileURL(origin).href);
      expect(model.roles.map((r) => r.name)).toEqual(['deploy']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
