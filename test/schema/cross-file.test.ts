import { describe, expect, it } from 'vitest';
import { POLICY, validate } from './helpers.js';
import picomatch from 'picomatch';
import { globMatcher } from '../../src/schema/cross-file.js';

const CONFIG = 'version: 1\nmounts:\n  aws: {}\n  aws-us-west-2: {roles: "roles/us-west-2/*.json"}\n';
const iamUser = { credential_type: 'iam_user' };

describe('cross-file checks', () => {
  it('gives each role file its mount and name', () => {
    const { model, errors } = validate({ 'credops.yaml': CONFIG, 'roles/a.json': iamUser, 'roles/us-west-2/a.json': iamUser });
    expect(errors).toEqual([]);
    expect(model?.roles.map((r) => `${r.mount}/${r.name} <- ${r.source}`)).toEqual(['aws/a <- roles/a.json', 'aws-us-west-2/a <- roles/us-west-2/a.json']);
  });

  it('rejects a role file claimed by two mounts', () => {
    const config = 'version: 1\nmounts:\n  aws: {roles: "roles/**/*.json"}\n  west: {roles: "roles/west/*.json"}\n';
    expect(validate({ 'credops.yaml': config, 'roles/west/a.json': iamUser }).errors).toEqual([
      'roles/west/a.json:1:1: error: matches the roles globs of mounts aws ("roles/**/*.json") and west ("roles/west/*.json"); a role file must belong to exactly one mount',
    ]);
  });

  it('rejects two files giving one mount the same role', () => {
    const config = 'version: 1\nmounts:\n  aws: {roles: "roles/**/*.{json,yaml}"}\n';
    expect(validate({ 'credops.yaml': config, 'roles/a/x.json': iamUser, 'roles/b/x.json': iamUser, 'roles/x.yaml': 'credential_type: iam_user\n' }).errors).toEqual([
      'roles/b/x.json:1:1: error: duplicate role "x" in mount aws: already defined by roles/a/x.json',
      'roles/x.yaml:1:1: error: duplicate role "x" in mount aws: already defined by roles/a/x.json',
    ]);
  });

  it('rejects role names Vault would refuse', () => {
    for (const bad of ['-x', 'a b', 'x.', 'é', 'a'.repeat(65)]) {
      const { errors } = validate({ [`roles/${bad}.json`]: iamUser });
      expect(errors, bad).toHaveLength(1);
      expect(errors[0]).toMatch(new RegExp(`^roles/.*\\.json:1:1: error: role name "${bad.replace('.', '\\.')}" (is not a valid Vault role name|is 65 characters)`));
    }
    expect(validate({ 'roles/a.b@c-d_e.json': iamUser }).errors).toEqual([]);
  });

  it('warns about role files no mount claims', () => {
    const { warnings, model } = validate({ 'credops.yaml': CONFIG, 'roles/eu/a.json': iamUser });
    expect(model?.roles).toEqual([]);
    expect(warnings).toEqual(['roles/eu/a.json:1:1: warning: not matched by the roles glob of any mount (aws: "roles/*.json", aws-us-west-2: "roles/us-west-2/*.json"); this file is ignored']);
  });

  it('checks that @policies references exist and that the policy file validates', () => {
    expect(validate({ 'roles/a.json': { ...iamUser, policy_document: '@policies/nope.json' } }).errors).toEqual([
      'roles/a.json:3:22: error: /policy_document policy file policies/nope.json does not exist',
    ]);
    const { errors, model } = validate({ 'policies/p.json': { Statement: {} }, 'roles/a.json': { ...iamUser, policy_document: '@policies/p.json' } });
    expect(model).toBeUndefined();
    expect(errors).toEqual(['policies/p.json:2:16: error: /Statement missing required field "Effect"', 'policies/p.json:2:16: error: /Statement must have Action or NotAction']);
  });

  it('sinks name an existing role in an existing mount', () => {
    const { errors } = validate({
      'credops.yaml': CONFIG,
      'roles/a.json': iamUser,
      'sinks/one.yaml': 'role: a\nmount: aws-us-west-2\nfile: {path: x}\n',
      'sinks/two.yaml': 'role: a\nmount: aws-eu\nfile: {path: x}\n',
    });
    expect(errors).toEqual([
      'sinks/one.yaml:1:7: error: /role role "a" does not exist in mount aws-us-west-2',
      'sinks/two.yaml:2:8: error: /mount mount "aws-eu" is not declared in credops.yaml (mounts: aws, aws-us-west-2)',
    ]);
  });

  it('a broken credops.yaml still lets role files be checked', () => {
    const { errors } = validate({ 'credops.yaml': 'version: 3\nmounts:\n  aws: {}\n', 'roles/a.json': { credential_type: 'nope' } });
    expect(errors).toEqual(['credops.yaml:1:10: error: /version must be 1 (found 2)'.replace('2', '3'), 'roles/a.json:2:22: error: /credential_type must be one of iam_user, assumed_role, federation_token, session_token (found "nope")']);
  });

  it('the policy object is not shared between roles (no aliasing through a shared file)', () => {
    const { model } = validate({ 'policies/p.json': POLICY, 'roles/a.json': { ...iamUser, policy_document: '@policies/p.json' }, 'roles/b.json': { ...iamUser, policy_document: '@policies/p.json' } });
    expect(model?.roles[0]?.policy_document).toEqual(model?.roles[1]?.policy_document);
    expect(model?.roles[0]?.policy_document).not.toBe(model?.roles[1]?.policy_document);
  });
});

describe('globMatcher', () => {
  it('matches as picomatch does, whatever the glob', () => {
    const paths = ['roles/a.json', 'roles/b.yaml', 'roles/x/c.json', 'prod/roles/a.json', 'a.json', 'rolesx/a.json', 'roles/.hidden.json', 'roles/.json', 'roles/a.json.bak', 'roles/a-b.yml'];
    for (const glob of ['roles/*.json', 'roles/*.yml', 'prod/roles/*.json', './roles/*.json', 'roles/**', 'roles/a.json', 'a.json', '*.json', '**/*.json', '{roles,prod}/**/*.json', 'roles/[ab].json', '!roles/*.json']) {
      const ours = globMatcher(glob);
      const theirs = picomatch(glob, { dot: false });
      expect(paths.filter(ours), glob).toEqual(paths.filter((p) => theirs(p)));
    }
  });
});
