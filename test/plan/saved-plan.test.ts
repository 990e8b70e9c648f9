import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { makePlan, parsePlanJson, renderPlan } from '../../src/plan/index.js';
import { applied, desired, role, sink } from './build.js';
import { exampleApplied, exampleDesired, exampleLeases, exampleWarnings } from './example-plan.js';

const examplePlan = () => makePlan(exampleDesired, exampleApplied, exampleLeases, exampleWarnings);

describe('saved plans (plan --out plan.json)', () => {
  it('read back to the same plan', () => {
    const plan = examplePlan();
    expect(parsePlanJson(renderPlan(plan, 'json'))).toStrictEqual(plan);
  });

  it('read back a plan made against an empty state (no applied commit)', () => {
    const plan = makePlan(desired({ roles: [role('aws', 'deploy')] }), { roles: [], sinks: [], mounts: [], serial: 0 }, []);
    const json = renderPlan(plan, 'json');
    expect(JSON.parse(json).state).toEqual({ commit: null, serial: 0 });
    expect(parsePlanJson(json)).toStrictEqual(plan);
  });

  it('render the same bytes whatever order the plan lists its changes in', () => {
    const plan = examplePlan();
    const shuffled = { ...plan, roles: [...plan.roles].reverse(), sinks: [...plan.sinks].reverse(), mounts: [...plan.mounts!].reverse(), warnings: [...plan.warnings].reverse() };
    expect(renderPlan(shuffled, 'json')).toBe(renderPlan(plan, 'json'));
  });

  it('keep a sensitive field sensitive through a save and a load', () => {
    const roles = [role('aws', 'deploy')];
    const plan = makePlan(desired({ roles, sinks: [sink('hook', { type: 'webhook', config: { token: 'tok-123' } })] }), applied({ roles }), []);
    const loaded = parsePlanJson(renderPlan(plan, 'json'));
    expect(loaded.sinks[0]!.fields.find((f) => f.field === 'config.token')).toEqual({ field: 'config.token', after: '(sensitive value)', sensitive: true });
    expect(renderPlan(loaded, 'json')).not.toContain('tok-123');
  });
});

describe('a file that is not a version-1 credops plan', () => {
  const valid = () => JSON.parse(renderPlan(examplePlan(), 'json'));
  const refuse = (text: string) => {
    try {
      parsePlanJson(text);
    } catch (err) {
      expect(err).toBeInstanceOf(UserError);
      return (err as Error).message;
    }
    throw new Error('the file was accepted');
  };

  it('is refused when it is not JSON', () => {
    expect(refuse('Plan: 1 to add')).toMatch(/^not a credops plan file: invalid JSON/);
  });

  it('is refused when it has no format_version', () => {
    expect(refuse('{"terraform_version":"1.9.0"}')).toBe('not a credops plan file: no "format_version"');
    expect(refuse('[]')).toBe('not a credops plan file: no "format_version"');
  });

  it('is refused when it has another format_version, saying which', () => {
    expect(refuse(JSON.stringify({ ...valid(), format_version: '2' }))).toBe(
      'plan file format_version "2" is not supported (this credops reads "1"); run credops plan again',
    );
    expect(refuse(JSON.stringify({ ...valid(), format_version: 1 }))).toMatch(/format_version 1 is not supported/);
  });

  it('is refused when a member has the wrong shape, naming it by JSON pointer', () => {
    const badAction = valid();
    badAction.roles[1].action = 'replace';
    expect(refuse(JSON.stringify(badAction))).toBe('not a valid credops plan file: /roles/1/action must be one of create, update, delete');

    const badSerial = valid();
    badSerial.state.serial = '4';
    expect(refuse(JSON.stringify(badSerial))).toBe('not a valid credops plan file: /state/serial must be a whole number');

    const noSinks = valid();
    delete noSinks.sinks;
    expect(refuse(JSON.stringify(noSinks))).toBe('not a valid credops plan file: /sinks must be an array');

    const badField = valid();
    badField.roles[0].fields[0] = 'credential_type';
    expect(refuse(JSON.stringify(badField))).toBe('not a valid credops plan file: /roles/0/fields/0 must be an object');
  });
});
