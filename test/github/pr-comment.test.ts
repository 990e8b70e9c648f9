import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exec } from './action-runner.js';
import { FakeGitHub } from './fake-github.js';

const SCRIPT = resolve(import.meta.dirname, '../../scripts/github/pr-comment.mjs');
const MARKER = '<!-- credops-plan -->';
const TOKEN = 'ghs_test-token-that-must-never-be-printed';

describe('pr-comment.mjs: one plan comment per pull request, updated in place', () => {
  let gh: FakeGitHub;
  let dir: string;

  beforeEach(async () => {
    gh = new FakeGitHub('acme/secrets', TOKEN);
    await gh.start();
    dir = mkdtempSync(join(tmpdir(), 'credops-pr-comment-'));
    writeFileSync(join(dir, 'event.json'), JSON.stringify({ action: 'synchronize', number: 7, pull_request: { number: 7 } }));
  });
  afterEach(async () => {
    await gh.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function post(body: string, env: Record<string, string> = {}) {
    const file = join(dir, 'plan.md');
    writeFileSync(file, body);
    return exec(
      process.execPath,
      [SCRIPT, file],
      {
        PATH: process.env.PATH ?? '',
        GITHUB_TOKEN: TOKEN,
        GITHUB_REPOSITORY: 'acme/secrets',
        GITHUB_EVENT_PATH: join(dir, 'event.json'),
        GITHUB_API_URL: gh.url,
        ...env,
      },
      dir,
    );
  }

  it('creates the comment on the first push and updates that same comment on the next', async () => {
    gh.addComment(7, 'LGTM, but see the plan');
    gh.addComment(8, `${MARKER}\nthe plan of another pull request`);

    const first = await post(`${MARKER}\n## credops plan\nPlan: 1 to add, 0 to change, 0 to destroy.\n`);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^Created the plan comment on #7: https:\/\/github\.example\//);
    const ours = gh.comments.filter((c) => c.issue === 7 && c.body.startsWith(MARKER));
    expect(ours).toHaveLength(1);
    expect(ours[0]!.body).toContain('Plan: 1 to add, 0 to change, 0 to destroy.');

    const second = await post(`${MARKER}\n## credops plan\nPlan: 0 to add, 1 to change, 0 to destroy.\n`);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/^Updated the plan comment on #7/);
    const after = gh.comments.filter((c) => c.issue === 7);
    expect(after).toHaveLength(2); // the human's comment and ours, no second plan comment
    expect(after.find((c) => c.id === ours[0]!.id)!.body).toContain('Plan: 0 to add, 1 to change, 0 to destroy.');
    expect(gh.comments.find((c) => c.issue === 8)!.body).toContain('another pull request');
    expect(gh.requests.map((r) => r.method)).toEqual(['GET', 'POST', 'GET', 'PATCH']);
    expect(gh.requests.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  it('follows the Link header to find its comment past the first 100', async () => {
    for (let i = 0; i < 150; i++) gh.addComment(7, `review comment ${i}`);
    const existing = gh.addComment(7, `${MARKER}\nold plan`);
    for (let i = 0; i < 120; i++) gh.addComment(7, `later comment ${i}`);

    const res = await post(`${MARKER}\nnew plan\n`);
    expect(res.code).toBe(0);
    expect(existing.body).toBe(`${MARKER}\nnew plan\n`);
    expect(gh.comments.filter((c) => c.body.startsWith(MARKER))).toHaveLength(1);
    expect(gh.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /repos/acme/secrets/issues/7/comments?per_page=100',
      'GET /repos/acme/secrets/issues/7/comments?per_page=100&page=2',
      `PATCH /repos/acme/secrets/issues/comments/${existing.id}`,
    ]);
  });

  it('never sends the token to a host other than the API, whatever the Link header says', async () => {
    for (let i = 0; i < 101; i++) gh.addComment(7, `review comment ${i}`);
    gh.linkBase = 'http://collector.invalid';
    const res = await post(`${MARKER}\nplan\n`);
    expect(res.code).toBe(1);
    expect(res.stderr).toBe('pr-comment: the next page is on another host (collector.invalid); not following it\n');
    expect(gh.requests).toHaveLength(1);
    expect(gh.comments.some((c) => c.body.startsWith(MARKER))).toBe(false);
  });

  it('adds the marker to a body without one, so the next run finds it', async () => {
    await post('Plan failed\n');
    expect(gh.comments[0]!.body).toBe(`${MARKER}\nPlan failed\n`);
    await post('Plan fixed\n');
    expect(gh.comments).toHaveLength(1);
    expect(gh.comments[0]!.body).toBe(`${MARKER}\nPlan fixed\n`);
  });

  it('cuts a plan longer than a comment may be and says where the rest is', async () => {
    const res = await post(`${MARKER}\n${'x'.repeat(70_000)}\n`);
    expect(res.code).toBe(0);
    const body = gh.comments[0]!.body;
    expect(body.length).toBeLessThanOrEqual(65_536);
    expect(body.startsWith(MARKER)).toBe(true);
    expect(body).toContain('the full plan is in the job summary');
  });

  it('fails with a clear message, without the token, when GitHub refuses', async () => {
    const res = await post(`${MARKER}\nplan\n`, { GITHUB_TOKEN: 'ghs_wrong-token-also-secret' });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^pr-comment: GitHub API GET \/repos\/acme\/secrets\/issues\/7\/comments failed: 401 Unauthorized: Bad credentials/);
    expect(res.stderr + res.stdout).not.toContain('ghs_');
  });

  it('fails clearly outside a pull request event and when the API is unreachable', async () => {
    writeFileSync(join(dir, 'push.json'), JSON.stringify({ ref: 'refs/heads/main' }));
    const push = await post('plan', { GITHUB_EVENT_PATH: join(dir, 'push.json') });
    expect(push.code).toBe(1);
    expect(push.stderr).toContain('the event has no pull request number');

    const url = gh.url;
    await gh.stop();
    const down = await post('plan', { GITHUB_API_URL: url });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^pr-comment: GET \/repos\/acme\/secrets\/issues\/7\/comments failed: ECONNREFUSED/);
    expect(down.stderr).not.toContain(TOKEN);
    await gh.start(); // afterEach stops it again
  });

  it('reads the pull request number from CREDOPS_PR_NUMBER when the event has none', async () => {
    writeFileSync(join(dir, 'dispatch.json'), JSON.stringify({ inputs: {} }));
    const res = await post(`${MARKER}\nplan\n`, { GITHUB_EVENT_PATH: join(dir, 'dispatch.json'), CREDOPS_PR_NUMBER: '12' });
    expect(res.code).toBe(0);
    expect(gh.comments[0]!.issue).toBe(12);
  });
});
