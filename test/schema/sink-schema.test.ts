import { describe, expect, it } from 'vitest';
import { ACCOUNT, ROLE_ARN, validate } from './helpers.js';

const OTHER_ARN = `arn:aws:iam::${ACCOUNT}:role/other`;
const repo = (sink: string) => ({
  'roles/deploy.json': { credential_type: 'iam_user' },
  'roles/ci.json': { credential_type: 'assumed_role', role_arns: [ROLE_ARN] },
  'roles/multi.json': { credential_type: 'assumed_role', role_arns: [ROLE_ARN, OTHER_ARN] },
  'sinks/s.yaml': sink,
});

describe('sink schema: accepted', () => {
  const cases: [string, string][] = [
    ['secretsmanager, minimal', 'role: deploy\nsecretsmanager:\n  name: team/deploy\n'],
    ['secretsmanager, every field', `role: deploy\nsecretsmanager:\n  name: arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:x\n  region: us-east-1\n  endpoint: http://127.0.0.1:4566\n  kms_key_id: alias/credops\n  recovery_window_days: 30\n`],
    ['secretsmanager, immediate deletion', 'role: deploy\nsecretsmanager: {name: x, recovery_window_days: 0}\n'],
    ['file, minimal', 'role: deploy\nfile:\n  path: creds.ini\n'],
    ['file as json and dotenv', 'role: deploy\nfile: {path: creds.json, format: json}\n'],
    ['file ini with a profile', 'role: deploy\nfile: {path: creds, format: ini, profile: ci}\n'],
    ['every common field', `role: ci\nmount: aws\nttl: 1h\nrenew_before: 15m\ngrace: 0\nrole_arn: ${ROLE_ARN}\ndeletion_policy: retain\nverify: false\nfile: {path: x}\n`],
    ['TTLs in seconds', 'role: deploy\nttl: 3600\nrenew_before: 600\nfile: {path: x}\n'],
    ['role_arn picking one of several', `role: multi\nrole_arn: ${OTHER_ARN}\nfile: {path: x}\n`],
  ];
  it.each(cases)('%s', (_name, sink) => {
    expect(validate(repo(sink)).errors).toEqual([]);
  });

  it('fills in the defaults', () => {
    const { model } = validate(repo('role: deploy\nfile: {path: creds}\n'));
    expect(model?.sinks).toEqual([
      { name: 's', source: 'sinks/s.yaml', mount: 'aws', role: 'deploy', type: 'file', config: { path: 'creds', format: 'ini', profile: 'default' }, grace: 300, deletion_policy: 'delete', verify: true },
    ]);
  });
});

describe('sink schema: rejected', () => {
  const cases: [string, string, string][] = [
    ['no role', 'file: {path: x}\n', 'sinks/s.yaml:1:1: error: must set "role" (a role of the mount) or "static_role" (a static role of the mount)'],
    ['no sink type', 'role: deploy\n', 'sinks/s.yaml:1:1: error: must have exactly one of secretsmanager, file (found none)'],
    ['two sink types', 'role: deploy\nfile: {path: x}\nsecretsmanager: {name: y}\n', 'must have exactly one of secretsmanager, file (found secretsmanager, file)'],
    ['an unknown sink type', 'role: deploy\ns3: {bucket: x}\nfile: {path: x}\n', 'sinks/s.yaml:2:1: error: /s3 unknown field "s3"'],
    ['secretsmanager without name', 'role: deploy\nsecretsmanager: {region: us-east-1}\n', 'sinks/s.yaml:2:17: error: /secretsmanager missing required field "name"'],
    ['a recovery window AWS refuses', 'role: deploy\nsecretsmanager: {name: x, recovery_window_days: 3}\n', '/secretsmanager/recovery_window_days must be 0 (delete at once) or between 7 and 30 days (found 3)'],
    ['a recovery window over 30 days', 'role: deploy\nsecretsmanager: {name: x, recovery_window_days: 31}\n', '/secretsmanager/recovery_window_days must be 0 (delete at once) or between 7 and 30 days (found 31)'],
    ['an endpoint that is not a URL', 'role: deploy\nsecretsmanager: {name: x, endpoint: localhost}\n', '/secretsmanager/endpoint must be an http(s) URL'],
    ['an unknown file format', 'role: deploy\nfile: {path: x, format: xml}\n', '/file/format must be one of ini, json, dotenv (found "xml")'],
    ['a profile with format json', 'role: deploy\nfile: {path: x, format: json, profile: p}\n', '/file/profile profile is only used with format ini'],
    ['file without path', 'role: deploy\nfile: {format: ini}\n', '/file missing required field "path"'],
    ['an unknown deletion_policy', 'role: deploy\ndeletion_policy: keep\nfile: {path: x}\n', 'sinks/s.yaml:2:18: error: /deletion_policy must be one of delete, retain (found "keep")'],
    ['verify: yes (a string in YAML 1.2)', 'role: deploy\nverify: yes\nfile: {path: x}\n', 'sinks/s.yaml:2:9: error: /verify must be true or false (found "yes")'],
    ['a ttl that is not a duration', 'role: deploy\nttl: soon\nfile: {path: x}\n', 'sinks/s.yaml:2:6: error: /ttl must be a number of seconds or a duration'],
    ['renew_before not below ttl', 'role: deploy\nttl: 1h\nrenew_before: 1h\nfile: {path: x}\n', 'sinks/s.yaml:3:15: error: /renew_before "renew_before" (3600 s) must be less than "ttl" (3600 s)'],
    ['a mount not in credops.yaml', 'role: deploy\nmount: aws-eu\nfile: {path: x}\n', 'sinks/s.yaml:2:8: error: /mount mount "aws-eu" is not declared in credops.yaml'],
    ['a role that does not exist', 'role: deplyo\nfile: {path: x}\n', 'sinks/s.yaml:1:7: error: /role role "deplyo" does not exist in mount aws (did you mean "deploy"?)'],
    ['role_arn for an iam_user role', `role: deploy\nrole_arn: ${ROLE_ARN}\nfile: {path: x}\n`, '/role_arn role_arn is only used with assumed_role roles'],
    ['a role_arn the role does not have', `role: ci\nrole_arn: ${OTHER_ARN}\nfile: {path: x}\n`, '/role_arn is not one of the role_arns of role "ci"'],
    ['no role_arn for a role with several', 'role: multi\nfile: {path: x}\n', '/role role "multi" has 2 role_arns: set role_arn to the one to assume'],
    ['a role_arn that is not a role ARN', 'role: ci\nrole_arn: arn:aws:iam::aws:policy/x\nfile: {path: x}\n', '/role_arn must be an IAM role ARN'],
  ];
  it.each(cases)('%s', (_name, sink, expected) => {
    const { errors, model } = validate(repo(sink));
    expect(model).toBeUndefined();
    expect(errors.some((e) => e.includes(expected)), `expected "${expected}" in:\n${errors.join('\n')}`).toBe(true);
  });
});
