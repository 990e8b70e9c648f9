import { describe, expect, it } from 'vitest';
import { validate } from './helpers.js';

describe('credops.yaml: accepted', () => {
  it('no credops.yaml at all means one mount "aws" with Vault defaults', () => {
    const { model, errors } = validate({ 'roles/a.json': { credential_type: 'iam_user' } });
    expect(errors).toEqual([]);
    expect(model?.config).toEqual({ mounts: { aws: { name: 'aws', lease: 768 * 3600, lease_max: 768 * 3600, roles: 'roles/*.json', static_roles: 'static-roles/*.json' } } });
  });

  const cases: [string, string][] = [
    ['version only', 'version: 1\n'],
    ['state and audit log', 'version: 1\nstate: sqlite:/var/lib/credops/state.db\naudit_log: audit.log\n'],
    ['a DynamoDB state', 'version: 1\nstate: dynamodb://credops-state/team-a/prod?region=eu-west-1\n'],
    [
      "Vault's default username_template",
      'version: 1\nmounts:\n  aws:\n    username_template: \'{{ if (eq .Type "STS") }}{{ printf "vault-%s-%s" (unix_time) (random 20) | truncate 32 }}{{ else }}{{ printf "vault-%s-%s-%s" (printf "%s-%s" (.DisplayName) (.PolicyName) | truncate 42) (unix_time) (random 20) | truncate 64 }}{{ end }}\'\n',
    ],
    ['a full mount', 'version: 1\nmounts:\n  aws:\n    region: eu-west-1\n    iam_endpoint: https://iam.amazonaws.com\n    sts_endpoint: http://127.0.0.1:4566\n    max_retries: -1\n    lease: 1h\n    lease_max: 3600\n    username_template: "vault-{{.RoleName}}-{{unix_time}}"\n    roles: roles/**/*.json\n'],
    ['another mount with its roles glob', 'version: 1\nmounts:\n  aws: {}\n  aws-us-west-2: {region: us-west-2, roles: "west/*.json"}\n'],
  ];
  it.each(cases)('%s', (_name, config) => {
    expect(validate({ 'credops.yaml': config }).errors).toEqual([]);
  });

  it('applies mount defaults and keeps what is set', () => {
    const { model } = validate({ 'credops.yaml': 'version: 1\nmounts:\n  aws: {region: us-east-1, lease: 1h}\n  west: {roles: "w/*.json"}\n' });
    expect(model?.config.mounts).toEqual({
      aws: { name: 'aws', region: 'us-east-1', lease: 3600, lease_max: 2764800, roles: 'roles/*.json', static_roles: 'static-roles/*.json' },
      west: { name: 'west', lease: 2764800, lease_max: 2764800, roles: 'w/*.json' },
    });
  });
});

describe('credops.yaml: rejected', () => {
  const cases: [string, string, string][] = [
    ['an unknown version', 'version: 2\n', 'credops.yaml:1:10: error: /version must be 1 (found 2)'],
    ['no version', 'mounts: {aws: {}}\n', 'credops.yaml:1:1: error: missing required field "version"'],
    ['an unknown key', 'version: 1\nmount: {}\n', 'credops.yaml:2:1: error: /mount unknown field "mount" (did you mean "mounts"?)'],
    ['another mount without roles', 'version: 1\nmounts:\n  aws-west: {region: us-west-2}\n', 'credops.yaml:3:13: error: /mounts/aws-west must set roles'],
    ['a bad region', 'version: 1\nmounts:\n  aws: {region: US East}\n', '/mounts/aws/region must be a region name such as us-east-1 (found "US East")'],
    ['an endpoint that is not http(s)', 'version: 1\nmounts:\n  aws: {iam_endpoint: "ftp://x"}\n', '/mounts/aws/iam_endpoint must be an http(s) URL'],
    ['max_retries below -1', 'version: 1\nmounts:\n  aws: {max_retries: -2}\n', '/mounts/aws/max_retries must be >= -1 (found -2)'],
    ['a lease that is not a duration', 'version: 1\nmounts:\n  aws: {lease: forever}\n', '/mounts/aws/lease must be a number of seconds or a duration'],
    ['a null lease (a value must be set here)', 'version: 1\nmounts:\n  aws:\n    lease: null\n', 'credops.yaml:4:12: error: /mounts/aws/lease must be a whole number or a string (found null)'],
    ['an empty request_timeout', 'version: 1\nmounts:\n  aws: {request_timeout: ""}\n', '/mounts/aws/request_timeout must be a number of seconds or a duration'],
    ['lease above lease_max', 'version: 1\nmounts:\n  aws: {lease: 48h, lease_max: 24h}\n', '/mounts/aws/lease "lease" value must be less than or equal to "lease_max" value'],
    ['a mount name with spaces', 'version: 1\nmounts:\n  "my mount": {roles: x}\n', 'credops.yaml:3:3: error: /mounts/my mount key must be a mount path'],
    ['a roles glob escaping the repo', 'version: 1\nmounts:\n  aws: {roles: "../x/*.json"}\n', '/mounts/aws/roles must be a glob relative to the repo root'],
    ['a state that is not a URL', 'version: 1\nstate: state.db\n', '/state must be a state URL such as sqlite:.credops/state.db or dynamodb://TABLE/KEY (found "state.db")'],
    ['a DynamoDB state without a key', 'version: 1\nstate: dynamodb://credops-state\n', '/state must be a state URL such as sqlite:.credops/state.db or dynamodb://TABLE/KEY'],
    ['no mounts', 'version: 1\nmounts: {}\n', '/mounts must not be empty'],
    ['a username_template that does not parse', 'version: 1\nmounts:\n  aws:\n    username_template: "vault-{{ if .Type }}x"\n', 'credops.yaml:4:24: error: /mounts/aws/username_template is not a valid template: missing {{end}} (at column 22)'],
    ['a username_template with an unknown function', 'version: 1\nmounts:\n  aws:\n    username_template: "{{ nosuch }}"\n', '/mounts/aws/username_template is not a valid template: function "nosuch" not defined'],
    ['a rotation_schedule that is not cron', 'version: 1\nmounts:\n  aws:\n    rotation_schedule: "61 * * * *"\n', '/mounts/aws/rotation_schedule is not a cron expression: Constraint error, got value 61 expected range 0-59'],
    ['both rotation_period and rotation_schedule', 'version: 1\nmounts:\n  aws:\n    rotation_period: 30d\n    rotation_schedule: "0 3 * * SAT"\n', '/mounts/aws/rotation_schedule rotation_schedule and rotation_period are mutually exclusive'],
    ['a username_template with an unknown field', 'version: 1\nmounts:\n  aws:\n    username_template: "{{ .Nope }}"\n', "/mounts/aws/username_template is not a valid template: can't evaluate field Nope"],
    ['YAML syntax', 'version: 1\nmounts: [\n', 'credops.yaml:3:1: error: invalid YAML'],
  ];
  it.each(cases)('%s', (_name, config, expected) => {
    const { errors, model } = validate({ 'credops.yaml': config });
    expect(model).toBeUndefined();
    expect(errors.some((e) => e.includes(expected)), `expected "${expected}" in:\n${errors.join('\n')}`).toBe(true);
  });
});
