import { describe, expect, it } from 'vitest';
import { validate } from './helpers.js';

/**
 * static-roles/NAME.json: Vault's static role fields (path_static_roles.go:
 * name, username, rotation_period; Vault 1.19: assume_role_arn,
 * assume_role_session_name, external_id), and the sinks that deliver them.
 */
describe('static role files', () => {
  it("accepts Vault's fields, as `vault read aws/static-roles/NAME` prints them, and normalises the period to seconds", () => {
    const { model, errors } = validate({
      'static-roles/vendor.json': { name: 'vendor', username: 'vendor-bot', rotation_period: 86400 },
      'static-roles/partner.json': {
        username: 'partner',
        rotation_period: '720h',
        assume_role_arn: 'arn:aws:iam::210987654321:role/key-rotator',
        assume_role_session_name: 'rotator',
        external_id: 'x-1',
      },
      'sinks/vendor.yaml': 'static_role: vendor\nsecretsmanager:\n  name: vendor/aws\n',
    });
    expect(errors).toEqual([]);
    expect(model!.staticRoles).toEqual([
      {
        mount: 'aws',
        name: 'partner',
        source: 'static-roles/partner.json',
        username: 'partner',
        rotation_period: 2592000,
        assume_role_arn: 'arn:aws:iam::210987654321:role/key-rotator',
        assume_role_session_name: 'rotator',
        external_id: 'x-1',
      },
      { mount: 'aws', name: 'vendor', source: 'static-roles/vendor.json', username: 'vendor-bot', rotation_period: 86400 },
    ]);
    expect(model!.sinks[0]).toMatchObject({ name: 'vendor', role: 'vendor', static_role: true, mount: 'aws' });
  });

  it.each([
    ['no username', { rotation_period: 60 }, 'static-roles/v.json:1:1: error: missing required field "username"'],
    ['no rotation_period', { username: 'u' }, 'static-roles/v.json:1:1: error: missing required field "rotation_period"'],
    ['a zero period (Vault: out of range)', { username: 'u', rotation_period: '0s' }, 'static-roles/v.json:3:22: error: /rotation_period role rotation period out of range: must be at least 1 second'],
    ['a user name IAM refuses', { username: 'a b', rotation_period: 60 }, 'static-roles/v.json:2:15: error: /username must be an IAM user name (1 to 64 letters, digits and +=,.@_-) (found "a b")'],
    ['a name that is not the file name', { name: 'w', username: 'u', rotation_period: 60 }, 'static-roles/v.json:2:11: error: /name is "w", but the file names the static role "v"; remove "name" or make them equal'],
    ['external_id without assume_role_arn', { username: 'u', rotation_period: 60, external_id: 'abc' }, 'static-roles/v.json:4:18: error: /external_id is only used with "assume_role_arn"'],
    ['an unknown field', { username: 'u', rotation_period: 60, ttl: 5 }, 'static-roles/v.json:4:3: error: /ttl unknown field "ttl"; expected one of name, username, rotation_period, assume_role_arn, assume_role_session_name, external_id'],
  ])('refuses %s, naming the file, line and field', (_what, file, error) => {
    const { model, errors } = validate({ 'static-roles/v.json': file });
    expect(model).toBeUndefined();
    expect(errors).toEqual([error]);
  });

  it('refuses two static roles of one user (each would delete the other\'s key), and sinks naming a missing static role or both kinds', () => {
    const { errors } = validate({
      'static-roles/a.json': { username: 'shared', rotation_period: 60 },
      'static-roles/b.json': { username: 'shared', rotation_period: 60 },
      'sinks/typo.yaml': 'static_role: c\nfile:\n  path: /tmp/x\n',
      'sinks/both.yaml': 'role: x\nstatic_role: a\nfile:\n  path: /tmp/y\n',
      'sinks/ttl.yaml': 'static_role: a\nttl: 1h\nfile:\n  path: /tmp/z\n',
      'sinks/none.yaml': 'file:\n  path: /tmp/w\n',
    });
    expect(errors).toEqual([
      'sinks/both.yaml:2:14: error: /static_role a sink delivers either a role ("role") or a static role ("static_role"), not both',
      'sinks/none.yaml:1:1: error: must set "role" (a role of the mount) or "static_role" (a static role of the mount)',
      'sinks/ttl.yaml:2:6: error: /ttl is not used with "static_role": a static role\'s key is replaced every rotation_period of the static role',
      'sinks/typo.yaml:1:14: error: /static_role static role "c" does not exist in mount aws (did you mean "a"?)',
      'static-roles/b.json:2:15: error: /username IAM user "shared" is already rotated by static-roles/a.json; two static roles would delete each other\'s keys',
    ]);
  });

  it('another mount has static roles only where its static_roles glob says', () => {
    const { model, errors } = validate({
      'credops.yaml': 'version: 1\nmounts:\n  aws: {}\n  aws-prod:\n    roles: prod/roles/*.json\n    static_roles: prod/static/*.json\n',
      'prod/static/vendor.json': { username: 'vendor-bot', rotation_period: 3600 },
      'static-roles/vendor.json': { username: 'vendor-bot', rotation_period: 3600 },
    });
    expect(errors).toEqual([]);
    expect(model!.staticRoles!.map((s) => `${s.mount}/${s.name}`)).toEqual(['aws/vendor', 'aws-prod/vendor']);
  });
});
