/**
 * Drift in the plan (`plan --refresh`): shown in every format, counted by
 * --detailed-exitcode, kept through a saved plan, and absent (byte for byte
 * the plan as before) when AWS was not checked.
 */
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import type { DriftItem, Plan } from '../../src/model/types.js';
import { makePlan, parsePlanJson, planHasChanges, planHasDrift, renderPlan, summaryLine } from '../../src/plan/index.js';
import { applied, desired, role } from '../plan/build.js';

const roles = [role('aws', 'deploy')];
const noChanges = (): Plan => makePlan(desired({ roles }), applied({ roles }), []);

const USER = 'credops-deploy-1700000000-AbCdEfGh';
const DRIFT: DriftItem[] = [
  { leaseId: 'aws/creds/deploy/zzz', kind: 'key_inactive', detail: `access key AKIAEXAMPLE of IAM user ${USER} is Inactive` },
  { leaseId: 'aws/creds/deploy/aaa', sink: 'ci-deploy', kind: 'user_deleted', detail: `IAM user ${USER} no longer exists` },
  { leaseId: 'aws/creds/deploy/zzz', kind: 'group_removed', detail: `IAM user ${USER} was removed from group deployers` },
];
const drifted = (): Plan => ({ ...noChanges(), drift: DRIFT });

describe('a plan with drift', () => {
  it('counts as something to do for --detailed-exitcode, but not as a change to apply', () => {
    expect(planHasChanges(drifted())).toBe(false);
    expect(planHasDrift(drifted())).toBe(true);
    expect(planHasDrift({ ...noChanges(), drift: [] })).toBe(false);
    expect(planHasDrift(noChanges())).toBe(false);
  });

  it('says in the summary line how many leases drifted', () => {
    expect(summaryLine(drifted())).toBe(
      'No changes. The state matches the repo at 3f2a9c1d0b7e4f6a8c5d2e1f0a9b8c7d6e5f4a3b. Drift: 2 leases have changed outside credops; reconcile repairs them.',
    );
  });

  it('text: one block per lease, before the changes', () => {
    const text = renderPlan(drifted(), 'text');
    expect(text).toBe(
      [
        'Note: Changes outside credops',
        '',
        'credops reconcile repairs these: a lease whose user or key is gone or disabled is revoked (its sink gets a new credential); changed permissions are put back; a sink target another state took over is taken back.',
        '',
        '  ! lease aws/creds/deploy/aaa (sink ci-deploy)',
        `      user_deleted: IAM user ${USER} no longer exists`,
        '',
        '  ! lease aws/creds/deploy/zzz',
        `      group_removed: IAM user ${USER} was removed from group deployers`,
        `      key_inactive: access key AKIAEXAMPLE of IAM user ${USER} is Inactive`,
        '',
        summaryLine(drifted()),
        '',
      ].join('\n'),
    );
  });

  it('markdown: a section listing each finding', () => {
    const md = renderPlan(drifted(), 'markdown');
    expect(md).toContain('#### Changes outside credops\n');
    expect(md).toContain(`- \`aws/creds/deploy/aaa\` (sink \`ci-deploy\`) \`user_deleted\`: IAM user ${USER} no longer exists\n`);
    expect(md).toContain(`- \`aws/creds/deploy/zzz\` \`key_inactive\`: access key AKIAEXAMPLE of IAM user ${USER} is Inactive\n`);
  });

  it('json: a sorted drift array, read back by reconcile --plan', () => {
    const json = JSON.parse(renderPlan(drifted(), 'json'));
    expect(json.drift).toEqual([
      { lease_id: 'aws/creds/deploy/aaa', sink: 'ci-deploy', kind: 'user_deleted', detail: `IAM user ${USER} no longer exists` },
      { lease_id: 'aws/creds/deploy/zzz', sink: null, kind: 'group_removed', detail: `IAM user ${USER} was removed from group deployers` },
      { lease_id: 'aws/creds/deploy/zzz', sink: null, kind: 'key_inactive', detail: `access key AKIAEXAMPLE of IAM user ${USER} is Inactive` },
    ]);
    const back = parsePlanJson(renderPlan(drifted(), 'json'));
    expect(new Set(back.drift)).toEqual(new Set(DRIFT));
    expect(renderPlan(back, 'json')).toBe(renderPlan(drifted(), 'json'));
  });

  it('refuses a saved plan whose drift kind it does not know', () => {
    const json = JSON.parse(renderPlan(drifted(), 'json'));
    json.drift[1].kind = 'user_renamed';
    expect(() => parsePlanJson(JSON.stringify(json))).toThrow(UserError);
    expect(() => parsePlanJson(JSON.stringify(json))).toThrow('/drift/1/kind must be one of user_deleted, key_deleted, key_inactive');
  });

  it('cannot be made to emit terminal escapes by a name from AWS', () => {
    const plan: Plan = { ...noChanges(), drift: [{ leaseId: 'aws/creds/x/1', kind: 'policy_changed', detail: 'group \u001b[2Jevil' }] };
    expect(renderPlan(plan, 'text')).not.toContain('\u001b');
    expect(renderPlan(plan, 'text')).toContain('group \\u001b[2Jevil');
  });
});

describe('a plan made without --refresh', () => {
  it('has no drift member at all, so its bytes are those of a plan before drift existed', () => {
    expect(JSON.parse(renderPlan(noChanges(), 'json'))).not.toHaveProperty('drift');
    expect(parsePlanJson(renderPlan(noChanges(), 'json'))).not.toHaveProperty('drift');
    expect(renderPlan(noChanges(), 'text')).not.toContain('outside credops');
  });

  it('a refreshed plan with nothing drifted says so with an empty array', () => {
    expect(JSON.parse(renderPlan({ ...noChanges(), drift: [] }, 'json')).drift).toEqual([]);
    expect(renderPlan({ ...noChanges(), drift: [] }, 'text')).toBe(renderPlan(noChanges(), 'text'));
  });
});
