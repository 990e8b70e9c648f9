/**
 * Story (issue #11): a plan of a large repo is quick because role files that
 * did not change since they were applied are not checked again; the state
 * holds each role's digest. What the plan says must not depend on that: a
 * change to a role file, or to the policy file it shares, shows as before, a
 * file that breaks is reported, and whitespace alone changes nothing.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { eachTestWorld, runCli, type LocalAws, type TempState } from './helpers.js';

let aws: LocalAws;
let t: TempState;
let repo: string;

eachTestWorld((w) => ({ aws, t } = w));

const POLICY = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' }] };

beforeEach(() => {
  repo = mkdtempSync(join(tmpdir(), 'credops-reuse-'));
  mkdirSync(join(repo, 'roles'));
  mkdirSync(join(repo, 'policies'));
  writeFileSync(join(repo, 'policies/read.json'), JSON.stringify(POLICY));
  writeFileSync(join(repo, 'roles/deploy.json'), JSON.stringify({ credential_type: 'iam_user', policy_document: POLICY }));
  writeFileSync(join(repo, 'roles/fed.json'), JSON.stringify({ credential_type: 'federation_token', policy_document: '@policies/read.json' }));
  writeFileSync(join(repo, 'roles/admin.json'), JSON.stringify({ credential_type: 'iam_user', policy_document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] } }));
});

afterEach(() => rmSync(repo, { recursive: true, force: true }));

const plan = () => runCli(aws, t, ['plan', '--repo', repo, '--detailed-exitcode']);

it('plans from the applied roles of unchanged files, and from the file itself once it changes', async () => {
  expect((await runCli(aws, t, ['reconcile', '--repo', repo, '--no-refresh'])).code).toBe(0);

  const quiet = await plan();
  expect(quiet.code, quiet.stdout).toBe(0);
  // The warning of the unchanged admin role is still shown, from the state.
  expect(quiet.stderr).toContain('roles/admin.json');
  expect(quiet.stderr).toMatch(/Action "\*" with Resource "\*"/);

  writeFileSync(join(repo, 'roles/deploy.json'), `\n  ${JSON.stringify({ credential_type: 'iam_user', policy_document: POLICY }, null, 4)}\n`);
  const spaces = await plan();
  expect(spaces.code, spaces.stdout).toBe(0);

  writeFileSync(join(repo, 'policies/read.json'), JSON.stringify({ ...POLICY, Statement: [{ ...POLICY.Statement[0], Action: 's3:PutObject' }] }));
  const shared = await plan();
  expect(shared.code).toBe(2);
  expect(shared.stdout).toContain('~ role aws/fed (roles/fed.json)');
  expect(shared.stdout).toContain('+ s3:PutObject');

  writeFileSync(join(repo, 'roles/deploy.json'), JSON.stringify({ credential_type: 'iam_user', policy_document: POLICY, user_path: 'no-slashes' }));
  const broken = await plan();
  expect(broken.code).toBe(1);
  expect(broken.stderr).toContain('roles/deploy.json:1:');
  expect(broken.stderr).toContain('/user_path');
});
