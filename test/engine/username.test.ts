/**
 * username_template in Vault's language: Vault's own default templates (for
 * IAM users and for STS), the functions of sdk/helper/template, and the
 * errors a template gets at validate and issue time.
 */
import { describe, expect, it } from 'vitest';
import { IAM_USER_NAME_MAX, STS_FEDERATION_NAME_MAX } from '../../src/limits.js';
import { UserError } from '../../src/errors.js';
import { DEFAULT_USERNAME_PATTERN, DEFAULT_USERNAME_TEMPLATE, renderUsername } from '../../src/engine/username.js';
import { TemplateError, VaultTemplate } from '../../src/schema/vault-template.js';

const NOW = Date.parse('2026-12-02T09:08:07.654Z');
const fixed = { now: () => NOW, random: (n: number) => 'R'.repeat(n), uuid: () => '00000000-0000-4000-8000-000000000000' };
const iam = { role: 'deploy', mount: 'aws', type: 'IAM' as const, now: NOW, random: fixed.random };
const sts = { ...iam, type: 'STS' as const };

/** Vault's default username_template for the AWS secrets engine (path_config_root.go). */
const VAULT_DEFAULT =
  '{{ if (eq .Type "STS") }}{{ printf "vault-%s-%s" (unix_time) (random 20) | truncate 32 }}' +
  '{{ else }}{{ printf "vault-%s-%s-%s" (printf "%s-%s" (.DisplayName) (.PolicyName) | truncate 42) (unix_time) (random 20) | truncate 64 }}{{ end }}';

const render = (template: string, data: Record<string, string | number | boolean> = {}) => VaultTemplate.parse(template).render(data, fixed);

describe("Vault's default templates", () => {
  it('IAM: vault-DISPLAY-POLICY-time-random, at most 64', () => {
    expect(renderUsername(VAULT_DEFAULT, { ...iam, displayName: 'token' }, IAM_USER_NAME_MAX)).toBe(`vault-token-deploy-${Math.floor(NOW / 1000)}-${'R'.repeat(20)}`);
    const long = renderUsername(VAULT_DEFAULT, { ...iam, role: 'a-very-long-role-name-that-keeps-going-and-going', displayName: 'approle' }, IAM_USER_NAME_MAX);
    expect(long).toHaveLength(64);
    expect(long.startsWith('vault-approle-a-very-long-role-name-that-keeps-g-')).toBe(true);
  });

  it('STS: vault-time-random cut to 32', () => {
    expect(renderUsername(VAULT_DEFAULT, sts, STS_FEDERATION_NAME_MAX)).toBe(`vault-${Math.floor(NOW / 1000)}-${'R'.repeat(15)}`);
  });

  it("credops's default: the role, the time and randomness, within AWS's limits for any role name", () => {
    expect(renderUsername(DEFAULT_USERNAME_TEMPLATE, iam, IAM_USER_NAME_MAX)).toBe(`credops-deploy-${Math.floor(NOW / 1000)}-RRRRRRRR`);
    expect(renderUsername(DEFAULT_USERNAME_TEMPLATE, { ...iam, role: 'r'.repeat(64) }, IAM_USER_NAME_MAX)).toMatch(DEFAULT_USERNAME_PATTERN);
    expect(renderUsername(DEFAULT_USERNAME_TEMPLATE, { ...sts, role: 'r'.repeat(64) }, STS_FEDERATION_NAME_MAX)).toBe(`credops-${'r'.repeat(15)}-RRRRRRRR`);
  });

  it("credops's older {{role}} / {{mount}} form still renders", () => {
    expect(renderUsername('{{ mount }}_{{ role }}_{{ random 3 }}', iam, IAM_USER_NAME_MAX)).toBe('aws_deploy_RRR');
  });
});

describe('the functions of sdk/helper/template', () => {
  it.each([
    ['{{ truncate 3 "abcdef" }}', 'abc'],
    ['{{ "abcdef" | truncate 10 }}', 'abcdef'],
    ['{{ truncate_sha256 12 "abcdefghijklmnop" }}', `abcd${'8' /* placeholder, replaced below */}`],
    ['{{ "Hello" | uppercase }}-{{ "Hello" | lowercase }}', 'HELLO-hello'],
    ['{{ "a.b.c" | replace "." "-" }}', 'a-b-c'],
    ['{{ "abc" | sha256 }}', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
    ['{{ "abc" | base64 }}', 'YWJj'],
    ['{{ unix_time }} {{ unix_time_millis }}', `${Math.floor(NOW / 1000)} ${NOW}`],
    ['{{ timestamp "2006-01-02T15:04:05Z07:00" }}', '2026-12-02T09:08:07Z'],
    ['{{ timestamp "20060102150405.000" }}', '20261202090807.654'],
    ['{{ uuid }}', '00000000-0000-4000-8000-000000000000'],
    ['{{ random 5 }}', 'RRRRR'],
    ['{{ printf "%s-%d-%v%%" "x" 42 true }}', 'x-42-true%'],
    ['{{ if eq .Type "IAM" "STS" }}yes{{ else }}no{{ end }}', 'yes'],
    ['{{ if (ne .Type "IAM") }}a{{ else if (eq .Type "IAM") }}b{{ else }}c{{ end }}', 'b'],
    ['{{- " a " -}}  {{- "b" }}', ' a b'],
    ['{{ if and .Type (not false) }}{{ len .Type }}{{ end }}', '3'],
    ['{{/* a comment */}}x', 'x'],
  ])('%s', (template, expected) => {
    const out = render(template, { Type: 'IAM' });
    if (template.includes('truncate_sha256')) {
      // The first max-8 characters, then 8 hex of the sha256 of the rest (Vault's truncateSHA256).
      expect(out).toMatch(/^abcd[0-9a-f]{8}$/);
      expect(out).toHaveLength(12);
    } else expect(out).toBe(expected);
  });
});

describe('errors', () => {
  it.each([
    ['{{ .Type ', 'unclosed action'],
    ['{{ if .Type }}x', 'missing {{end}}'],
    ['{{ end }}', 'unexpected {{end}}'],
    ['{{ range .Type }}{{ end }}', '{{range}} is not supported'],
    ['{{ nosuch 3 }}', 'function "nosuch" not defined'],
    ['{{ printf "%s" ( "x" }}', 'unclosed "("'],
    ['{{ "x" | }}', 'missing command after "|"'],
    ['{{ }}', 'empty action'],
  ])('%s does not parse: %s', (template, message) => {
    expect(() => VaultTemplate.parse(template)).toThrow(TemplateError);
    expect(() => VaultTemplate.parse(template)).toThrow(message);
  });

  it('names the column of a parse error', () => {
    expect(() => VaultTemplate.parse('vault-{{ nosuch }}')).toThrow('(at column 10)');
  });

  it('fails to render an unknown field, a wrong argument, and names too long, too short or with characters AWS refuses', () => {
    expect(() => renderUsername('{{ .Nope }}', iam, 64)).toThrow(/can't evaluate field Nope \(fields: \.Type, \.DisplayName, \.PolicyName, \.RoleName, \.MountName\)/);
    expect(() => renderUsername('{{ truncate "x" "y" }}', iam, 64)).toThrow('truncate: expected an integer');
    expect(() => renderUsername('{{ random 0 }}', iam, 64)).toThrow('random: length must be >= 1');
    expect(() => renderUsername('a'.repeat(70), iam, IAM_USER_NAME_MAX)).toThrow('the username generated by the template exceeds the IAM username length limits of 64 chars');
    expect(() => renderUsername('{{ printf "%s-%s" (unix_time) (random 30) }}', sts, STS_FEDERATION_NAME_MAX)).toThrow('exceeds the STS username length limits of 32 chars');
    expect(() => renderUsername('x', iam, 64, 2)).toThrow("shorter than AWS's minimum of 2");
    expect(() => renderUsername('a b', iam, 64)).toThrow(UserError);
    expect(() => renderUsername('a b', iam, 64)).toThrow('AWS allows only letters, digits and _+=,.@- in names');
  });

  it("normalises the role and display names as Vault's normalizeDisplayName does", () => {
    expect(renderUsername('{{ .RoleName }}-{{ .DisplayName }}', { ...iam, role: 'team/deploy prod', displayName: 'ci sink' }, 64)).toBe('team_deploy_prod-ci_sink');
  });

  it('draws fresh randomness by default', () => {
    const a = renderUsername('{{random 16}}', { role: 'r', mount: 'm', type: 'IAM', now: 0 }, 64);
    const b = renderUsername('{{random 16}}', { role: 'r', mount: 'm', type: 'IAM', now: 0 }, 64);
    expect(a).toMatch(/^[A-Za-z0-9]{16}$/);
    expect(a).not.toBe(b);
  });
});
