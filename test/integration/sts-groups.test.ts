/**
 * Story (issue #12, point 1): a Vault user's assumed_role and federation_token
 * roles name iam_groups, and Vault folds the groups' policies into the
 * session: their inline policies' statements join the role's policy_document,
 * their managed policies join policy_arns (iam_policies.go). credops does the
 * same, and checks AWS's limits on the result before calling STS.
 */
import { beforeEach, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { eachTestWorld, applyRoles, callerIdentity, engineFor, failure, role, S3_READ, type LocalAws, type TempState } from './helpers.js';

let aws: LocalAws;
let t: TempState;
let readOnlyArn: string;
let deployerArn: string;

const LIST_BUCKETS = { Version: '2012-10-17', Statement: [{ Sid: 'FromGroup', Effect: 'Allow', Action: 's3:ListAllMyBuckets', Resource: '*' }] };

eachTestWorld((w) => ({ aws, t } = w));

beforeEach(async () => {
  aws.iam.createGroup('developers');
  aws.iam.putGroupPolicy('developers', 'list-buckets', JSON.stringify(LIST_BUCKETS));
  readOnlyArn = aws.iam.createManagedPolicy('ReadOnly').arn;
  aws.iam.attachGroupPolicy('developers', readOnlyArn);
  aws.iam.createGroup('empty');
  aws.iam.createGroup('huge');
  aws.iam.putGroupPolicy('huge', 'big', JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${'b'.repeat(2100)}/*` }] }));
  deployerArn = aws.iam.createRole('deployer').arn;
  await applyRoles(t.state, [
    role('fed', { credential_types: ['federation_token'], policy_document: S3_READ, iam_groups: ['developers'] }),
    role('fed-groups-only', { credential_types: ['federation_token'], iam_groups: ['developers'] }),
    role('fed-no-policy', { credential_types: ['federation_token'], iam_groups: ['empty'] }),
    role('fed-huge', { credential_types: ['federation_token'], policy_document: S3_READ, iam_groups: ['huge'] }),
    role('assumed', { credential_types: ['assumed_role'], role_arns: [deployerArn], iam_groups: ['developers'] }),
  ]);
  aws.resetCalls();
});

it('GetFederationToken gets the groups\' inline statements before the role\'s, and their managed policies after its policy_arns', async () => {
  const { engine } = engineFor(aws, t);
  const cred = await engine.issue({ mount: 'aws', role: 'fed', path: 'sts' });
  const [session] = aws.iam.sessions();
  expect(session!.kind).toBe('federated-user');
  expect(JSON.parse(session!.policy!)).toEqual({ Version: '2012-10-17', Statement: [...LIST_BUCKETS.Statement, ...S3_READ.Statement] });
  expect(session!.policyArns).toEqual([readOnlyArn]);
  expect((await callerIdentity(aws, cred)).Arn).toContain(':federated-user/');
});

it('a federation_token role whose policy comes from its groups alone is issued with it', async () => {
  const { engine } = engineFor(aws, t);
  await engine.issue({ mount: 'aws', role: 'fed-groups-only', path: 'sts' });
  const [session] = aws.iam.sessions();
  expect(JSON.parse(session!.policy!)).toEqual(LIST_BUCKETS);
  expect(session!.policyArns).toEqual([readOnlyArn]);
});

it('AssumeRole gets the groups\' policies too', async () => {
  const { engine } = engineFor(aws, t);
  await engine.issue({ mount: 'aws', role: 'assumed', path: 'sts' });
  const [session] = aws.iam.sessions();
  expect(session!.kind).toBe('assumed-role');
  expect(JSON.parse(session!.policy!)).toEqual(LIST_BUCKETS);
  expect(session!.policyArns).toEqual([readOnlyArn]);
});

it('refuses, before calling STS, a federation_token that would have no policy, and a folded policy over AWS\'s size', async () => {
  const { engine } = engineFor(aws, t);
  const none = await failure(engine.issue({ mount: 'aws', role: 'fed-no-policy', path: 'sts' }));
  expect(none).toBeInstanceOf(UserError);
  expect(none.message).toBe('aws/roles/fed-no-policy: must specify at least one of policy_arns or policy_document with federation_token credential_type');
  const huge = await failure(engine.issue({ mount: 'aws', role: 'fed-huge', path: 'sts' }));
  expect(huge.message).toMatch(/^aws\/roles\/fed-huge: the session policy with the inline policies of iam_groups huge is \d+ characters \(whitespace not counted\); AWS STS takes at most 2048$/);
  expect(aws.calls.filter((c) => c.service === 'sts')).toEqual([]);
  expect(aws.iam.sessions()).toEqual([]);
});
