import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import type { Plan } from '../../src/model/types.js';
import { makePlan, PLAN_COMMENT_MARKER, renderPlan, type PlanFormat } from '../../src/plan/index.js';
import { GITHUB_COMMENT_MAX_CHARS } from '../../src/plan/render-markdown.js';
import { applied, desired, role, sink } from './build.js';
import { exampleApplied, exampleDesired, exampleLeases, exampleWarnings } from './example-plan.js';

const examplePlan = () => makePlan(exampleDesired, exampleApplied, exampleLeases, exampleWarnings);
const noChanges = () => makePlan(desired({ roles: [role('aws', 'deploy')] }), applied({ roles: [role('aws', 'deploy')] }), []);
const FORMATS: PlanFormat[] = ['text', 'markdown', 'json'];
const ESC = '\u001b';

describe('plan renderings of the example change', () => {
  it('text, as Terraform prints a plan', async () => {
    await expect(renderPlan(examplePlan(), 'text')).toMatchFileSnapshot('../fixtures/plan/example.txt');
  });

  it('markdown, for the pull-request comment', async () => {
    await expect(renderPlan(examplePlan(), 'markdown')).toMatchFileSnapshot('../fixtures/plan/example.md');
  });

  it('json, the documented saved-plan shape', async () => {
    await expect(renderPlan(examplePlan(), 'json')).toMatchFileSnapshot('../fixtures/plan/example.json');
  });

  it.each([
    ['text', 'txt'],
    ['markdown', 'md'],
    ['json', 'json'],
  ] as const)('no changes, as %s', async (format, ext) => {
    await expect(renderPlan(noChanges(), format)).toMatchFileSnapshot(`../fixtures/plan/no-changes.${ext}`);
  });
});

describe('text rendering', () => {
  it('ends with Terraform’s summary line, or says there is nothing to do', () => {
    expect(renderPlan(examplePlan(), 'text').trimEnd().split('\n').at(-1)).toBe('Plan: 5 to add, 3 to change, 4 to destroy.');
    expect(renderPlan(noChanges(), 'text')).toBe('No changes. The state matches the repo at 3f2a9c1d0b7e4f6a8c5d2e1f0a9b8c7d6e5f4a3b.\n');
  });

  it('uses colour only when asked to', () => {
    expect(renderPlan(examplePlan(), 'text')).not.toContain(ESC);
    const coloured = renderPlan(examplePlan(), 'text', { color: true });
    expect(coloured).toContain(`${ESC}[32m+${ESC}[0m`);
    expect(coloured.replaceAll(new RegExp(`${ESC}\\[[0-9;]*m`, 'g'), '')).toBe(renderPlan(examplePlan(), 'text'));
  });

  it('cannot be made to emit terminal escapes by a name in the repo', () => {
    const plan = makePlan(desired({ roles: [role('aws', 'evil', { source: `roles/\u001b[2Jevil.json`, iam_tags: { k: '\u001b]0;title\u0007' } })] }), applied({}), []);
    const text = renderPlan(plan, 'text');
    expect(text).not.toContain(ESC);
    expect(text).toContain('\\u001b[2Jevil.json');
  });
});

describe('markdown rendering', () => {
  it('starts with the hidden marker that CI uses to update the comment in place', () => {
    for (const plan of [examplePlan(), noChanges()]) expect(renderPlan(plan, 'markdown').split('\n')[0]).toBe(PLAN_COMMENT_MARKER);
  });

  it('puts the bold summary line first, a risk callout, and one collapsible section per change', () => {
    const md = renderPlan(examplePlan(), 'markdown');
    expect(md).toContain('\n**Plan: 5 to add, 3 to change, 4 to destroy.**\n');
    expect(md).toContain('> [!WARNING]\n> **This plan widens access.**\n> - role `aws/ci`: allows every ecr action');
    expect(md.match(/<details><summary>/g)).toHaveLength(12);
    expect(md.match(/<\/details>/g)).toHaveLength(12);
  });

  it('has no risk callout when nothing widens access', () => {
    const plan = makePlan(desired({ roles: [role('aws', 'r', { user_path: '/a/' })] }), applied({ roles: [role('aws', 'r')] }), []);
    expect(renderPlan(plan, 'markdown')).not.toContain('[!WARNING]');
  });

  it('escapes what comes from the repo: no HTML, no broken fence, no @mention', () => {
    const plan = makePlan(
      desired({ roles: [role('aws', 'x', { source: 'roles/<img src=x onerror=alert(1)>.json', iam_tags: { note: '```\n</details><script>alert(1)</script>' } })] }),
      applied({}),
      [],
      [{ file: 'roles/x.json', line: 1, column: 1, pointer: '', severity: 'warning', message: 'see @policies/shared.json and <b>*this*</b>' }],
    );
    const md = renderPlan(plan, 'markdown');
    const fence = /\n(`{3,})diff\n/.exec(md)?.[1];
    expect(fence, 'a fence longer than the backticks inside').toBe('````');
    const outsideCode = md.replace(/\n````diff\n[\s\S]*?\n````\n/, '\n');
    expect(outsideCode).not.toMatch(/<img|<script|<b>/);
    expect(outsideCode.match(/<\/details>/g)).toHaveLength(1);
    expect(md).toContain('roles/&#60;img src=x onerror=alert(1)&#62;.json');
    expect(md).toContain('see `@policies/shared.json` and &#60;b>\\*this\\*&#60;/b>');
  });

  it('stays under GitHub’s comment size limit for a very large plan, saying what was left out', () => {
    const roles = Array.from({ length: 600 }, (_, i) =>
      role('aws', `r${String(i).padStart(3, '0')}`, { policy_document: { Statement: [{ Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:ListBucket'], Resource: `arn:aws:s3:::bucket-${i}/*` }] } }),
    );
    const md = renderPlan(makePlan(desired({ roles }), applied({}), []), 'markdown');
    expect(md.length).toBeLessThanOrEqual(GITHUB_COMMENT_MAX_CHARS);
    expect(md).toContain('**Plan: 600 to add, 0 to change, 0 to destroy.**');
    expect(md).toMatch(/\d+ more changes are not shown/);
  });

  it('keeps the risk callout and the warnings short when many roles widen access', () => {
    const roles = Array.from({ length: 2000 }, (_, i) => role('aws', `r${i}`, { policy_document: { Statement: [{ Effect: 'Allow', Action: 'ec2:*', Resource: '*' }] } }));
    const warnings = roles.map((r) => ({ file: r.source, line: 1, column: 1, pointer: '', severity: 'warning' as const, message: 'Action "ec2:*" on Resource "*"' }));
    const md = renderPlan(makePlan(desired({ roles }), applied({}), [], warnings), 'markdown');
    expect(md.length).toBeLessThanOrEqual(GITHUB_COMMENT_MAX_CHARS);
    expect(md).toContain('> - and 3970 more, in the sections below');
    expect(md).toContain('- and 1950 more: run credops validate to see them all');
  });
});

describe('no secret in any rendering', () => {
  const secrets = ['wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'hunter2-password', 'xoxb-slack-token', 'client-secret-value'];
  const before = sink('hook', { type: 'webhook', config: { url: 'https://hooks.example.test/a', token: 'xoxb-old', headers: { Authorization: 'Bearer old' } } });
  const after = sink('hook', {
    type: 'webhook',
    config: {
      url: 'https://hooks.example.test/a',
      token: secrets[2],
      secret_access_key: secrets[0],
      auth: { password: secrets[1], user: 'ci' },
      clientSecret: secrets[3],
      headers: { Authorization: 'Bearer new' },
      secret_id: 'ci/deploy',
    },
  });

  it.each(FORMATS)('a sink config field named like a secret is never rendered (%s)', (format) => {
    const roles = [role('aws', 'deploy')];
    for (const plan of [makePlan(desired({ roles, sinks: [after] }), applied({ roles, sinks: [before] }), []), makePlan(desired({ roles, sinks: [after] }), applied({ roles }), [])]) {
      const out = renderPlan(plan, format);
      for (const secret of [...secrets, 'Bearer new', 'Bearer old', 'xoxb-old']) expect(out).not.toContain(secret);
      expect(out).toContain('config.token');
      expect(out).toContain('ci/deploy'); // an identifier, not a secret: still shown
    }
  });

  it.each(FORMATS)('even a hand-built plan carrying a secret value does not render it (%s)', (format) => {
    const plan: Plan = {
      ...noChanges(),
      sinks: [{ action: 'update', name: 'hook', type: 'webhook', fields: [{ field: 'config.api_key', before: 'old-api-key-value', after: 'new-api-key-value' }] }],
      summary: { add: 0, change: 1, destroy: 0 },
    };
    const out = renderPlan(plan, format);
    expect(out).toContain('config.api_key');
    expect(out).not.toMatch(/api-key-value/);
  });
});

describe('renderPlan', () => {
  it('refuses a format it does not know, naming the ones it does', () => {
    expect(() => renderPlan(noChanges(), 'yaml' as PlanFormat)).toThrow(UserError);
    expect(() => renderPlan(noChanges(), 'yaml' as PlanFormat)).toThrow('use one of text, markdown, json');
    expect(() => renderPlan(noChanges(), 'toString' as PlanFormat)).toThrow(UserError);
  });
});
