/**
 * Story: credops acts as an IAM user holding exactly the least-privilege
 * policy Vault documents for iam_user roles, and the endpoint enforces it as
 * IAM does (an Allow needed for every call). Issuing and revoking an iam_user
 * role with an inline and a managed policy works and leaves nothing; the
 * optional clean-up of out-of-band additions is skipped, and when it matters
 * the error names the permission that would have allowed it.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { applyRoles, credopsUsers, eachTestWorld, engineFor, failure, role, S3_READ, type LocalAws, type TempState } from './helpers.js';

/** https://developer.hashicorp.com/vault/docs/secrets/aws#example-iam-policy-for-vault (iam_user), for users named credops-*. */
const VAULT_IAM_USER_POLICY = (account: string) =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: [
          'iam:AttachUserPolicy',
          'iam:CreateAccessKey',
          'iam:CreateUser',
          'iam:DeleteAccessKey',
          'iam:DeleteUser',
          'iam:DeleteUserPolicy',
          'iam:DetachUserPolicy',
          'iam:ListAccessKeys',
          'iam:ListAttachedUserPolicies',
          'iam:ListGroupsForUser',
          'iam:ListUserPolicies',
          'iam:PutUserPolicy',
          'iam:RemoveUserFromGroup',
        ],
        Resource: [`arn:aws:iam::${account}:user/credops-*`],
      },
    ],
  });

let aws: LocalAws;
let t: TempState;
let env: NodeJS.ProcessEnv;

eachTestWorld((w) => ({ aws, t } = w), { enforcePolicies: true });

beforeEach(async () => {
  const root = aws.iam.createUser('vault-root');
  aws.iam.putUserPolicy(root.userName, 'vault', VAULT_IAM_USER_POLICY(aws.accountId));
  const key = aws.iam.createAccessKey(root.userName);
  aws.clock.advance(60_000);
  env = { AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey };
  const readOnly = aws.iam.createManagedPolicy('ReadOnly').arn;
  await applyRoles(t.state, [role('deploy', { credential_types: ['iam_user'], policy_document: S3_READ, policy_arns: [readOnly] })]);
});

describe("Vault's least-privilege root", () => {
  it('the endpoint enforces it: anything else is AccessDenied', async () => {
    const { engine } = engineFor(aws, t, { env });
    await applyRoles(t.state, [role('other', { credential_types: ['iam_user'], user_path: '/team/' })]);
    const err = await failure(engine.issue({ mount: 'aws', role: 'other', path: 'creds' }));
    expect(err.message).toContain('AccessDenied');
    expect(credopsUsers(aws).filter((u) => u.userName !== 'vault-root')).toEqual([]);
  });

  it('issues and revokes an iam_user role with an inline and a managed policy, and leaves nothing', async () => {
    const { engine } = engineFor(aws, t, { env });
    const cred = await engine.issue({ mount: 'aws', role: 'deploy', path: 'creds' });
    const user = aws.iam.user(cred.lease.resources.userName!)!;
    expect(user.attachedPolicies).toHaveLength(1);
    // Without iam:TagUser the user is created untagged (CreateUser with tags was refused, then made without).
    expect(user.tags).toEqual([]);

    await engine.revoke(cred.lease.leaseId);
    expect(aws.iam.user(cred.lease.resources.userName!)).toBeUndefined();
    expect(await t.state.listLeases()).toEqual([]);
    expect(await t.state.listJournal()).toEqual([]);
  });

  it('a failed issuance is undone with the same permissions', async () => {
    const { engine } = engineFor(aws, t, { env });
    await applyRoles(t.state, [role('grouped', { credential_types: ['iam_user'], policy_document: S3_READ, iam_groups: ['missing'] })]);
    await failure(engine.issue({ mount: 'aws', role: 'grouped', path: 'creds' }));
    expect(credopsUsers(aws).map((u) => u.userName)).toEqual(['vault-root']);
    expect(await t.state.listJournal()).toEqual([]);
  });

  it('an out-of-band login profile it may not delete: the revoke says which permission would', async () => {
    const { engine } = engineFor(aws, t, { env });
    const cred = await engine.issue({ mount: 'aws', role: 'deploy', path: 'creds' });
    aws.iam.createLoginProfile(cred.lease.resources.userName!);
    const err = await failure(engine.revoke(cred.lease.leaseId));
    expect(err.message).toMatch(/cannot be deleted: .*; credops could not remove what was added out of band: .*DeleteLoginProfile \(AccessDenied: grant iam:DeleteLoginProfile\)/);
  });
});
