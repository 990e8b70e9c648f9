import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAction, runAction, type ActionRun, type StepReplacement } from './action-runner.js';
import { FakeGitHub } from './fake-github.js';
import { startLocalDynamo, type LocalDynamo } from '../support/dynamodb.js';

/**
 * The user story of issue 5: a pull request shows the plan, a merge applies it.
 * The steps of action.yml run as the GitHub runner would run them (its bash
 * scripts, env, conditions and outputs), on a temp git repo, with credops from
 * source instead of `npm ci` and a fake GitHub API for the comment. It runs
 * twice: with a SQLite state file (a persistent self-hosted runner), and with
 * the DynamoDB state a GitHub-hosted runner uses (issue #10), where no state
 * file may appear on the runner.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const FIXTURE = join(import.meta.dirname, 'fixtures/secrets-repo');
const MARKER = '<!-- credops-plan -->';
const TOKEN = 'ghs_flow-test-token';

describe.each(['sqlite', 'dynamodb'] as const)('GitHub Action: plan on the pull request, reconcile on merge (%s state)', (backend) => {
  const action = loadAction(join(ROOT, 'action.yml'));
  let dynamo: LocalDynamo | undefined;
  let stateUrl: string;
  let tmp: string;
  let ws: string;
  let gh: FakeGitHub;
  let binDir: string;
  const summaries: string[] = [];

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'credops-action-'));
    ws = join(tmp, 'workspace');
    cpSync(FIXTURE, ws, { recursive: true });
    git('init', '-q', '-b', 'main');
    git('add', '.');
    git('commit', '-q', '-m', 'roles');

    // What the install step leaves behind: a `credops` command. Here it runs the source.
    binDir = join(tmp, 'bin');
    mkdirSync(binDir);
    const tsx = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
    writeFileSync(
      join(binDir, 'credops'),
      `#!/usr/bin/env bash\nexec "${process.execPath}" --import "${tsx}" "${join(ROOT, 'test/github/cli.ts')}" "$@"\n`,
    );
    chmodSync(join(binDir, 'credops'), 0o755);

    gh = new FakeGitHub('acme/secrets', TOKEN);
    await gh.start();
    if (backend === 'dynamodb') {
      dynamo = await startLocalDynamo();
      stateUrl = await dynamo.newState('acme/secrets/prod');
    } else {
      stateUrl = `sqlite:${join(tmp, 'state.db')}`;
    }
  });

  afterAll(async () => {
    await gh?.stop();
    await dynamo?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  function git(...args: string[]): string {
    return execFileSync('git', args, {
      cwd: ws,
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH ?? '',
        HOME: tmp,
        GIT_AUTHOR_NAME: 'Dev',
        GIT_AUTHOR_EMAIL: 'dev@example.com',
        GIT_COMMITTER_NAME: 'Dev',
        GIT_COMMITTER_EMAIL: 'dev@example.com',
        GIT_CONFIG_NOSYSTEM: '1',
      },
    }).trim();
  }

  /** One use of the action in a workflow: `uses: credops/credops@v0` with `with`. */
  async function useAction(event: 'pull_request' | 'push', inputs: Record<string, string>): Promise<ActionRun> {
    const eventPath = join(tmp, `${event}.json`);
    writeFileSync(
      eventPath,
      JSON.stringify(event === 'pull_request' ? { number: 42, pull_request: { number: 42 } } : { ref: 'refs/heads/main' }),
    );
    const summary = join(tmp, `summary-${summaries.length}.md`);
    writeFileSync(summary, '');
    summaries.push(summary);
    const runnerTemp = mkdtempSync(join(tmp, 'runner-temp-'));

    const replace: Record<string, StepReplacement> = {
      'actions/setup-node@v4': (step) => {
        expect(step.with?.['node-version']).toBe('${{ inputs.node-version }}');
        return {};
      },
      install: () => ({ outputs: { 'bin-dir': binDir } }),
    };
    return runAction({
      action,
      with: { state: stateUrl, ...inputs },
      github: { action_path: ROOT, event_name: event, token: TOKEN, workspace: ws },
      cwd: ws,
      replace,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: tmp,
        CI: 'true',
        GITHUB_ACTIONS: 'true',
        GITHUB_WORKSPACE: ws,
        GITHUB_REPOSITORY: 'acme/secrets',
        GITHUB_EVENT_NAME: event,
        GITHUB_EVENT_PATH: eventPath,
        GITHUB_API_URL: gh.url,
        GITHUB_SHA: git('rev-parse', 'HEAD'),
        GITHUB_STEP_SUMMARY: summary,
        RUNNER_TEMP: runnerTemp,
        CREDOPS_AUDIT_LOG: join(tmp, 'audit.log'),
        // Nothing in this story may reach AWS: roles alone are state, not AWS calls.
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'AKIDFLOWTEST',
        AWS_SECRET_ACCESS_KEY: 'flow-test-secret',
        AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
        AWS_MAX_ATTEMPTS: '1',
      },
    });
  }

  const step = (run: ActionRun, id: string) => run.steps.find((s) => s.id === id)!;
  const planComments = () => gh.comments.filter((c) => c.issue === 42 && c.body.startsWith(MARKER));

  it('main is reconciled, so its plan is clean', async () => {
    const reconcile = await useAction('push', { command: 'reconcile' });
    expect(step(reconcile, 'credops').stderr).not.toMatch(/Error/);
    expect(reconcile.outputs.exitcode).toBe('0');
    expect(reconcile.failed).toBe(false);

    const plan = await useAction('push', { command: 'plan' });
    expect(plan.outputs).toMatchObject({ exitcode: '0', 'has-changes': 'false' });
    expect(step(plan, 'comment').outcome).toBe('skipped'); // a push has no pull request
    expect(readFileSync(plan.outputs['plan-file']!, 'utf8')).toContain('No changes. The state matches the repo at');
  });

  it('a pull request that changes a role shows one change, exit code 2, in one comment', async () => {
    git('checkout', '-q', '-b', 'longer-deploy-sessions');
    const role = JSON.parse(readFileSync(join(ws, 'roles/deploy.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(ws, 'roles/deploy.json'), JSON.stringify({ ...role, default_sts_ttl: '30m' }, null, 2));
    git('commit', '-q', '-am', 'deploy: 30m sessions');

    const validate = await useAction('pull_request', { command: 'validate' });
    expect(validate.outputs.exitcode).toBe('0');
    expect(step(validate, 'comment').outcome).toBe('skipped');

    const plan = await useAction('pull_request', { command: 'plan' });
    expect(plan.outputs.exitcode).toBe('2');
    expect(plan.outputs['has-changes']).toBe('true');
    expect(plan.failed).toBe(false); // exit 2 is a plan with changes, not a failure
    const markdown = readFileSync(plan.outputs['plan-file']!, 'utf8');
    expect(markdown.startsWith(MARKER)).toBe(true);
    expect(markdown).toContain('Plan: 0 to add, 1 to change, 0 to destroy.');
    expect(markdown).toContain('deploy');
    expect(readFileSync(summaries.at(-1)!, 'utf8')).toBe(markdown);

    expect(step(plan, 'comment').outcome).toBe('success');
    expect(planComments()).toHaveLength(1);
    expect(planComments()[0]!.body).toBe(markdown);
    expect(gh.requests.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  it('a second push to the pull request updates the same comment', async () => {
    const commentId = planComments()[0]!.id;
    writeFileSync(join(ws, 'roles/deploy.json'), readFileSync(join(ws, 'roles/deploy.json'), 'utf8').replace('"30m"', '"45m"'));
    git('commit', '-q', '-am', 'deploy: 45m sessions');

    const plan = await useAction('pull_request', { command: 'plan' });
    expect(plan.outputs.exitcode).toBe('2');
    expect(planComments()).toHaveLength(1);
    expect(planComments()[0]!.id).toBe(commentId);
    expect(planComments()[0]!.body).toContain('45m');
  });

  it('a push that breaks a role file fails the job and replaces the plan in the comment with the errors', async () => {
    const good = readFileSync(join(ws, 'roles/deploy.json'), 'utf8');
    writeFileSync(join(ws, 'roles/deploy.json'), good.replace('"assumed_role"', '"assumed-role"'));
    git('commit', '-q', '-am', 'typo');

    const plan = await useAction('pull_request', { command: 'plan' });
    expect(plan.outputs.exitcode).toBe('1');
    expect(plan.outputs['has-changes']).toBe('false');
    expect(plan.failed).toBe(true);
    expect(plan.steps.at(-1)!.outcome).toBe('failure');
    expect(step(plan, 'credops').stderr).toMatch(/^roles\/deploy\.json:\d+:\d+: error: .*credential_type/m);
    expect(step(plan, 'credops').stderr).toMatch(/^::error file=roles\/deploy\.json,line=\d+,col=\d+,title=credops::/m);

    expect(planComments()).toHaveLength(1);
    const body = planComments()[0]!.body;
    expect(body).toContain('### credops plan failed');
    expect(body).toMatch(/roles\/deploy\.json:\d+:\d+: error: .*credential_type/);
    expect(body).not.toContain('Plan: 0 to add');
    expect(body).not.toMatch(/^::/m);

    writeFileSync(join(ws, 'roles/deploy.json'), good);
    git('commit', '-q', '-am', 'fix typo');
  });

  it('refuses a command it does not know, with an annotation, before running anything', async () => {
    const run = await useAction('push', { command: 'apply' });
    expect(run.outputs.exitcode).toBe('1');
    expect(run.failed).toBe(true);
    expect(step(run, 'credops').stdout).toContain('::error title=credops::unknown command "apply": use plan, reconcile or validate');
  });

  it('after the merge, reconcile applies the change and the next plan is clean', async () => {
    git('checkout', '-q', 'main');
    git('merge', '-q', '--no-ff', '-m', 'Merge longer-deploy-sessions', 'longer-deploy-sessions');

    const reconcile = await useAction('push', { command: 'reconcile', 'lock-timeout': '5s' });
    expect(reconcile.outputs.exitcode).toBe('0');
    expect(step(reconcile, 'credops').stdout).toMatch(/Reconcile complete: 0 added, 1 changed, 0 destroyed/);

    const plan = await useAction('push', { command: 'plan' });
    expect(plan.outputs).toMatchObject({ exitcode: '0', 'has-changes': 'false' });
    expect(readFileSync(plan.outputs['plan-file']!, 'utf8')).toContain('No changes. The state matches the repo at');
  });

  it('keeps the state where the state input says, and nowhere else on the runner', () => {
    const files = execFileSync('find', [tmp, '-name', '*.db*'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
    // A hosted runner's disk is gone after the job: with DynamoDB, no state file is made at all.
    expect(files.filter((f) => !f.endsWith('-wal') && !f.endsWith('-shm'))).toEqual(backend === 'sqlite' ? [join(tmp, 'state.db')] : []);
  });
});
