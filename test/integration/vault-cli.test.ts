/**
 * Story (issue #12, point 3): a script written for Vault's CLI runs against
 * credops unchanged: `read`/`write` on MOUNT/creds/ROLE and MOUNT/sts/ROLE
 * with key=value fields, single-dash flags (-format=json, -prefix,
 * -increment), and Vault's JSON: `renewable`, data.arn for an assumed role,
 * and `lease lookup`'s fields. A mistyped command or option says so in one
 * line, with the nearest match.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { vaultFlags } from '../../src/cli/main.js';
import { parseVaultPath } from '../../src/cli/vault-paths.js';
import { eachTestWorld, applyRoles, callerIdentity, credopsUsers, role, runCli, S3_READ, type LocalAws, type TempState } from './helpers.js';

let aws: LocalAws;
let t: TempState;
let deployerArn: string;

eachTestWorld((w) => ({ aws, t } = w));

beforeEach(async () => {
  deployerArn = aws.iam.createRole('deployer').arn;
  await applyRoles(t.state, [
    role('deploy', { credential_types: ['iam_user'], policy_document: S3_READ }),
    role('ec2-admin', { credential_types: ['assumed_role'], role_arns: [deployerArn] }),
  ]);
});

describe('Vault spellings', () => {
  it('vault read -format=json aws/creds/ROLE: the envelope Vault prints', async () => {
    const r = await runCli(aws, t, ['read', '-format=json', 'aws/creds/deploy']);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { lease_id: string; renewable: boolean; data: { access_key: string; secret_key: string; security_token: null } };
    expect(Object.keys(out)).toEqual(['request_id', 'lease_id', 'lease_duration', 'renewable', 'data', 'warnings']);
    expect(out.renewable).toBe(true);
    expect(out.lease_id).toMatch(/^aws\/creds\/deploy\/\w+$/);
    expect(out.data.security_token).toBeNull();
    expect(credopsUsers(aws)).toHaveLength(1);
  });

  it('vault write aws/sts/ROLE ttl=15m role_arn=... role_session_name=...: the session AWS got, and data.arn', async () => {
    const r = await runCli(aws, t, ['write', 'aws/sts/ec2-admin', 'ttl=15m', `role_arn=${deployerArn}`, 'role_session_name=alice@ci run', '-format=json']);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { lease_duration: number; renewable: boolean; data: { access_key: string; secret_key: string; security_token: string; arn: string } };
    const [session] = aws.iam.sessions();
    // Vault's normalizeDisplayName: characters AWS refuses in a session name become "_".
    expect(session).toMatchObject({ roleArn: deployerArn, roleSessionName: 'alice@ci_run', durationSeconds: 900 });
    expect(out.data.arn).toBe(session!.arn);
    expect(out.renewable).toBe(false);
    const identity = await callerIdentity(aws, { accessKeyId: out.data.access_key, secretAccessKey: out.data.secret_key, sessionToken: out.data.security_token });
    expect(identity.Arn).toBe(session!.arn);
    // Vault's read does the same as write on this path.
    expect((await runCli(aws, t, ['read', 'aws/sts/ec2-admin'])).stdout).toMatch(/^arn {16}arn:aws:sts::/m);
  });

  it('lease lookup has Vault\'s fields, last_renewal set by a renew with -increment; revoke -prefix takes the prefix as Vault does', async () => {
    const issued = JSON.parse((await runCli(aws, t, ['read', 'aws/creds/deploy', '-format=json'])).stdout) as { lease_id: string };
    const look = async () => JSON.parse((await runCli(aws, t, ['lease', 'lookup', '-format=json', issued.lease_id])).stdout) as { renewable: boolean; data: Record<string, unknown> };
    const before = await look();
    expect(Object.keys(before.data)).toEqual(expect.arrayContaining(['expire_time', 'id', 'issue_time', 'last_renewal', 'renewable', 'ttl']));
    expect(before.data).toMatchObject({ id: issued.lease_id, last_renewal: null, renewable: true });

    const renew = await runCli(aws, t, ['lease', 'renew', '-increment=1h', '-format=json', issued.lease_id]);
    expect(renew.stderr).toBe('');
    expect(JSON.parse(renew.stdout)).toMatchObject({ lease_id: issued.lease_id, lease_duration: 3600, renewable: true });
    const after = await look();
    expect(after.data.last_renewal).toEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT/));
    expect(after.data.ttl).toBeGreaterThan(3500);
    expect(after.data.ttl).toBeLessThanOrEqual(3600);

    const revoke = await runCli(aws, t, ['lease', 'revoke', '-prefix', 'aws/creds/deploy']);
    expect(revoke.code).toBe(0);
    expect(credopsUsers(aws)).toEqual([]);
  });

  it('a mistyped command or option is one line naming the nearest match, and nothing runs', async () => {
    const command = await runCli(aws, t, ['lease', 'revok', 'aws/creds/deploy/x']);
    expect(command.code).toBe(1);
    expect(command.stderr).toBe("error: unknown command 'revok' (did you mean revoke?); see credops --help\n");
    const option = await runCli(aws, t, ['creds', 'deploy', '-formt', 'json']);
    expect(option.code).toBe(1);
    expect(option.stderr).toBe("error: unknown option '--formt' (did you mean --format?); see credops --help\n");
    const path = await runCli(aws, t, ['read', 'aws/roles/deploy']);
    expect(path.stderr).toContain('credops read serves MOUNT/creds/ROLE and MOUNT/sts/ROLE');
    expect(credopsUsers(aws)).toEqual([]);
  });
});

describe('argument rules', () => {
  it('takes Vault\'s single-dash long flags as double-dash ones, and leaves the rest alone', () => {
    const argv = (...a: string[]) => vaultFlags(['node', 'credops', ...a]).slice(2);
    expect(argv('lease', 'revoke', '-prefix', 'aws/creds/x')).toEqual(['lease', 'revoke', '--prefix', 'aws/creds/x']);
    expect(argv('lease', 'revoke', '-prefix=true', 'aws/creds/x')).toEqual(['lease', 'revoke', '--prefix', 'aws/creds/x']);
    expect(argv('lease', 'revoke', '-prefix=false', 'aws/creds/x/1')).toEqual(['lease', 'revoke', 'aws/creds/x/1']);
    expect(argv('read', '-format=json', 'aws/creds/x')).toEqual(['read', '--format=json', 'aws/creds/x']);
    expect(argv('-h')).toEqual(['-h']);
    expect(argv('--format', 'json', '--', '-prefix')).toEqual(['--format', 'json', '--', '-prefix']);
    expect(argv('sts', 'x', '--ttl', '-5')).toEqual(['sts', 'x', '--ttl', '-5']);
  });

  it('reads MOUNT/creds/ROLE and MOUNT/sts/ROLE, mounts with slashes included', () => {
    expect(parseVaultPath('read', 'aws/creds/deploy')).toEqual({ mount: 'aws', role: 'deploy', path: 'creds' });
    expect(parseVaultPath('read', '/team/aws/sts/deploy/')).toEqual({ mount: 'team/aws', role: 'deploy', path: 'sts' });
    expect(() => parseVaultPath('read', 'aws/deploy')).toThrow(/serves MOUNT\/creds\/ROLE/);
    expect(() => parseVaultPath('write', 'aws/roles/deploy')).toThrow(/roles are files of the secrets repo/);
  });
});
