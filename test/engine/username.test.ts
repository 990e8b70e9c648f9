import { describe, expect, it } from 'vitest';
import { IAM_USER_NAME_MAX, STS_FEDERATION_NAME_MAX } from '../../src/limits.js';
import { UserError } from '../../src/errors.js';
import { DEFAULT_USERNAME_TEMPLATE, renderUsername } from '../../src/engine/username.js';

const input = { role: 'deploy', mount: 'aws', now: 1_700_000_000_123, random: (n: number) => 'R'.repeat(n) };

describe('renderUsername', () => {
  it('renders the default template like Vault: role, unix time, randomness', () => {
    expect(renderUsername(DEFAULT_USERNAME_TEMPLATE, input, IAM_USER_NAME_MAX)).toBe('credops-deploy-1700000000-RRRRRRRR');
  });

  it('accepts spaces inside the braces and {{mount}}', () => {
    expect(renderUsername('{{ mount }}_{{ role }}_{{ random 3 }}', input, IAM_USER_NAME_MAX)).toBe('aws_deploy_RRR');
  });

  it('shortens the role, then the mount, so that the unique part survives truncation', () => {
    const long = { ...input, role: 'r'.repeat(40), mount: 'm'.repeat(20) };
    const name = renderUsername('x-{{mount}}-{{role}}-{{unix_time}}-{{random 8}}', long, STS_FEDERATION_NAME_MAX);
    expect(name).toHaveLength(32);
    expect(name).toBe(`x-${'m'.repeat(9)}--1700000000-RRRRRRRR`);
    expect(renderUsername('x-{{mount}}-{{role}}-{{unix_time}}', long, 64)).toBe(`x-${'m'.repeat(20)}-${'r'.repeat(30)}-1700000000`);
  });

  it('cuts the end when literals alone are too long, as Vault truncate does', () => {
    expect(renderUsername('a'.repeat(70), input, IAM_USER_NAME_MAX)).toBe('a'.repeat(64));
  });

  it('replaces characters IAM names do not allow', () => {
    expect(renderUsername('{{role}}', { ...input, role: 'team/deploy prod' }, 64)).toBe('team-deploy-prod');
  });

  it('refuses unknown fields, bad random lengths and names below the minimum', () => {
    expect(() => renderUsername('{{display_name}}', input, 64)).toThrow(UserError);
    expect(() => renderUsername('{{display_name}}', input, 64)).toThrow('unknown field {{display_name}}');
    expect(() => renderUsername('{{random 0}}', input, 64)).toThrow('{{random N}} needs N between 1 and 64');
    expect(() => renderUsername('x', input, 64, 2)).toThrow("shorter than AWS's minimum of 2");
  });

  it('draws fresh randomness by default', () => {
    const a = renderUsername('{{random 16}}', { role: 'r', mount: 'm', now: 0 }, 64);
    const b = renderUsername('{{random 16}}', { role: 'r', mount: 'm', now: 0 }, 64);
    expect(a).toMatch(/^[A-Za-z0-9]{16}$/);
    expect(a).not.toBe(b);
  });
});
