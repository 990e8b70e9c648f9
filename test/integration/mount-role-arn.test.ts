/**
 * Story (issue #12, point 7): a team with many AWS accounts gives each one a
 * mount whose `role_arn` credops assumes with its ambient identity (Vault's
 * role_arn on config/root): no static keys in any account. What AWS received
 * shows it: one AssumeRole of that role with the mount's external id and
 * session name, and every IAM and STS call of the mount signed by that
 * session, while the default mount still acts as the ambient identity.
 */
import { beforeEach, expect, it } from 'vitest';
import { eachTestWorld, applyRoles, engineFor, mount, role, S3_READ, type LocalAws, type TempState } from './helpers.js';

let aws: LocalAws;
let t: TempState;
let prodRoleArn: string;

eachTestWorld((w) => ({ aws, t } = w));

beforeEach(async () => {
  prodRoleArn = aws.iam.createRole('credops-admin', { accountId: '210987654321', externalId: 'credops-prod' }).arn;
  const deployerArn = aws.iam.createRole('deployer').arn;
  await applyRoles(
    t.state,
    [
      role('deploy', { mount: 'aws-prod', credential_types: ['iam_user'], policy_document: S3_READ }),
      role('session', { mount: 'aws-prod', credential_types: ['assumed_role'], role_arns: [deployerArn] }),
      role('deploy', { credential_types: ['iam_user'], policy_document: S3_READ }),
    ],
    [mount(), mount({ name: 'aws-prod', roles: 'prod/*.json', role_arn: prodRoleArn, external_id: 'credops-prod', session_name: 'credops-prod-reconciler' })],
  );
  aws.resetCalls();
});

it('acts in the other account as its role_arn, assumed once with the ambient identity, and the default mount as itself', async () => {
  const { engine } = engineFor(aws, t);
  const first = await engine.issue({ mount: 'aws-prod', role: 'deploy', path: 'creds' });
  await engine.issue({ mount: 'aws-prod', role: 'deploy', path: 'creds' });
  await engine.issue({ mount: 'aws-prod', role: 'session', path: 'sts' });
  await engine.issue({ mount: 'aws', role: 'deploy', path: 'creds' });

  const assumed = aws.iam.sessions().filter((s) => s.roleArn === prodRoleArn);
  expect(assumed).toHaveLength(1);
  expect(assumed[0]).toMatchObject({ roleSessionName: 'credops-prod-reconciler', externalId: 'credops-prod' });
  const assumeCalls = aws.calls.filter((c) => c.action === 'AssumeRole');
  // The mount's own AssumeRole was signed by the ambient identity; the session role's by the mount's session.
  expect(assumeCalls.map((c) => c.accessKeyId)).toEqual([aws.root.accessKeyId, assumed[0]!.accessKeyId]);

  const createUser = aws.calls.filter((c) => c.action === 'CreateUser');
  expect(createUser.map((c) => c.accessKeyId)).toEqual([assumed[0]!.accessKeyId, assumed[0]!.accessKeyId, aws.root.accessKeyId]);
  expect(first.lease.mount).toBe('aws-prod');
});

it("sends STS calls to sts_fallback_endpoints in order when sts_endpoint gives no answer, with each one's region", async () => {
  const down = 'http://127.0.0.1:9'; // nothing listens there: connection refused
  await applyRoles(t.state, [role('fed', { credential_types: ['federation_token'], policy_document: S3_READ })], [
    mount({ sts_endpoint: down, sts_fallback_endpoints: [down, aws.url], sts_fallback_regions: ['us-east-2', 'us-east-1'], max_retries: 0 }),
  ]);
  const { engine } = engineFor(aws, t);
  const cred = await engine.issue({ mount: 'aws', role: 'fed', path: 'sts' });
  expect(cred.lease.credentialType).toBe('federation_token');
  expect(aws.calls.filter((c) => c.action === 'GetFederationToken').map((c) => c.status)).toEqual([200]);

  // An answer is final, even a refusal: no fallback is tried after AccessDenied.
  await applyRoles(t.state, [role('fed', { credential_types: ['federation_token'], policy_document: S3_READ })], [
    mount({ sts_fallback_endpoints: [down], max_retries: 0 }),
  ]);
  aws.faults.failNext('GetFederationToken', 'AccessDenied', 1);
  const refused = await engineFor(aws, t).engine.issue({ mount: 'aws', role: 'fed', path: 'sts' }).catch((e: unknown) => e as Error);
  expect((refused as Error).message).toContain('AWS AccessDenied');
});
