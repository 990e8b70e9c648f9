import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadAction } from './action-runner.js';

/**
 * The example workflows are what a secrets repo copies: they must call the
 * action with inputs it has, keep reconciles from overlapping, and get AWS
 * access through OIDC. The IAM policy must cover what credops calls.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const EXAMPLES = join(ROOT, 'examples/github');

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
}
interface Workflow {
  on: Record<string, unknown>;
  permissions: Record<string, string>;
  concurrency?: { group: string; 'cancel-in-progress': boolean };
  jobs: Record<string, { 'runs-on': unknown; steps: Step[]; env?: Record<string, string> }>;
}

const workflow = (path: string) => parse(readFileSync(path, 'utf8')) as Workflow;
const action = loadAction(join(ROOT, 'action.yml'));
const steps = (wf: Workflow) => Object.values(wf.jobs).flatMap((j) => j.steps);
const credopsSteps = (wf: Workflow) => steps(wf).filter((s) => s.uses?.startsWith('credops/credops@'));

describe('example workflows (examples/github/.github/workflows)', () => {
  const plan = workflow(join(EXAMPLES, '.github/workflows/plan.yml'));
  const reconcile = workflow(join(EXAMPLES, '.github/workflows/reconcile.yml'));

  it('use only inputs the action declares, and only its commands', () => {
    for (const wf of [plan, reconcile]) {
      for (const s of credopsSteps(wf)) {
        for (const input of Object.keys(s.with ?? {})) expect(Object.keys(action.inputs)).toContain(input);
        expect(['plan', 'reconcile', 'validate']).toContain(s.with?.command);
      }
    }
  });

  it('plan validates, then plans with the comment, on pull requests', () => {
    expect(plan.on).toHaveProperty('pull_request');
    expect(plan.permissions['pull-requests']).toBe('write');
    expect(credopsSteps(plan).map((s) => s.with?.command)).toEqual(['validate', 'plan']);
    expect(credopsSteps(plan)[1]!.with?.comment).toBe(true);
  });

  it('reconcile runs on push to main and every 15 minutes, never two at once', () => {
    expect(reconcile.on.push).toEqual({ branches: ['main'] });
    expect(reconcile.on.schedule).toEqual([{ cron: '*/15 * * * *' }]);
    expect(reconcile.concurrency).toEqual({ group: 'credops-reconcile', 'cancel-in-progress': false });
    expect(credopsSteps(reconcile).map((s) => s.with?.command)).toEqual(['reconcile']);
  });

  it('both get AWS credentials through GitHub OIDC, and share one DynamoDB state, so they run on GitHub-hosted runners', () => {
    for (const wf of [plan, reconcile]) {
      expect(wf.permissions['id-token']).toBe('write');
      const aws = steps(wf).find((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'));
      expect(aws?.with?.['role-to-assume']).toMatch(/^arn:aws:iam::\d{12}:role\//);
      expect(aws?.with).not.toHaveProperty('aws-access-key-id');
      const job = Object.values(wf.jobs)[0]!;
      expect(job['runs-on']).toBe('ubuntu-latest');
      expect(job.env?.CREDOPS_STATE).toBe('dynamodb://credops-state/acme/secrets?region=us-east-1');
    }
  });

  it('the plan role may only read the state table; the reconcile role may read and write it, both only their own state', () => {
    type Statement = { Sid: string; Action: string | string[]; Resource: string[]; Condition?: Record<string, Record<string, string[]>> };
    const read = (file: string) =>
      (JSON.parse(readFileSync(join(EXAMPLES, file), 'utf8')) as { Statement: Statement[] }).Statement.map((s) => ({ ...s, Action: [s.Action].flat() }));
    const planTable = read('iam-policy-plan.json').filter((s) => s.Action.some((a) => a.startsWith('dynamodb:')));
    expect(planTable.flatMap((s) => s.Action).sort()).toEqual(['dynamodb:GetItem', 'dynamodb:Query']);
    const reconcileTable = read('iam-policy.json').filter((s) => s.Action.some((a) => a.startsWith('dynamodb:')));
    expect(reconcileTable.flatMap((s) => s.Action).sort()).toEqual(['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem']);
    for (const s of [...planTable, ...reconcileTable]) {
      expect(s.Resource).toEqual(['arn:aws:dynamodb:us-east-1:123456789012:table/credops-state', 'arn:aws:dynamodb:us-east-1:123456789012:table/credops-state/index/*']);
      expect(s.Condition?.['ForAllValues:StringEquals']?.['dynamodb:LeadingKeys']).toEqual(['acme/secrets']);
    }
  });

  it("plan, which runs a pull request's code, is not given the state key", () => {
    expect(JSON.stringify(plan)).not.toContain('CREDOPS_STATE_KEY');
  });
});

describe('examples/github/iam-policy.json', () => {
  const policy = JSON.parse(readFileSync(join(EXAMPLES, 'iam-policy.json'), 'utf8')) as {
    Statement: { Sid: string; Action: string | string[]; Resource: string | string[]; Condition?: unknown }[];
  };
  const list = (v: string | string[]) => (Array.isArray(v) ? v : [v]);
  const actions = (sid: string) => list(policy.Statement.find((s) => s.Sid === sid)?.Action ?? []);

  it('has one statement per purpose, each with its own Sid', () => {
    const sids = policy.Statement.map((s) => s.Sid);
    expect(new Set(sids).size).toBe(sids.length);
  });

  it('lets iam_user issue (CreateUser with tags needs TagUser) and revoke everything, also what was added out of band', () => {
    expect(actions('IamUserIssue')).toEqual(expect.arrayContaining(['iam:CreateUser', 'iam:TagUser', 'iam:CreateAccessKey']));
    expect(actions('IamUserRevoke')).toEqual(
      expect.arrayContaining(['iam:DeleteAccessKey', 'iam:DeleteUserPolicy', 'iam:DetachUserPolicy', 'iam:DeleteUser']),
    );
    expect(actions('IamUserRevokeOutOfBand')).toEqual(
      expect.arrayContaining(['iam:DeleteLoginProfile', 'iam:DeactivateMFADevice', 'iam:DeleteSSHPublicKey', 'iam:DeleteSigningCertificate']),
    );
  });

  it('covers the STS credential types and the Secrets Manager sink', () => {
    expect(actions('AssumedRole')).toContain('sts:AssumeRole');
    expect(actions('FederationToken')).toContain('sts:GetFederationToken');
    const sm = policy.Statement.filter((s) => s.Sid.startsWith('SecretsManagerSink')).flatMap((s) => list(s.Action));
    expect(sm).toEqual(expect.arrayContaining(['secretsmanager:CreateSecret', 'secretsmanager:PutSecretValue', 'secretsmanager:DeleteSecret']));
  });

  it('scopes every statement to resources, except ListUsers which acts on the account', () => {
    for (const s of policy.Statement) {
      if (list(s.Resource).includes('*')) expect(list(s.Action)).toEqual(['iam:ListUsers']);
    }
  });
});

describe('.github/workflows/ci.yml of this project', () => {
  const ci = workflow(join(ROOT, '.github/workflows/ci.yml'));

  it('runs on push and pull requests: install, typecheck, lint, tests on Node 20', () => {
    expect(Object.keys(ci.on)).toEqual(['push', 'pull_request']);
    const s = steps(ci);
    expect(s.find((x) => x.uses?.startsWith('actions/setup-node@'))?.with?.['node-version']).toBe(20);
    const runs = s.flatMap((x) => (x.run ? [x.run] : []));
    expect(runs).toEqual([expect.stringMatching(/^npm ci\b/), 'npm run typecheck', 'npm run lint', expect.stringMatching(/vitest run/)]);
  });
});
