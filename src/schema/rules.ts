import type { ConfigFile, RoleFile, SinkFile, StaticRoleFile } from '../model/schema-types.js';
import { CREDENTIAL_TYPES } from '../model/types.js';
import { rulesOf, typesWhere, type CredentialTypeRules } from './credential-types.js';
import type { Finding } from './finding.js';
import { credentialTypesOf, durationSeconds, isVaultEmpty, legacyOf } from './vault-values.js';
import { TemplateError, usernameData, VaultTemplate } from './vault-template.js';
import { createRequire } from 'node:module';

/**
 * Vault's rules that JSON Schema cannot state with a good message: they
 * compare two fields' parsed values or only warn. Each runs on a document the
 * schema already accepted. The fields themselves live in schemas/.
 */
export interface Rule<T> {
  name: string;
  check(doc: T): Finding[];
}

/**
 * cron-parser (with luxon, a third of a megabyte to compile) is loaded only
 * for a credops.yaml that sets rotation_schedule: not on every validate and
 * plan (issue #11). A runtime require, so that the bundle leaves it out.
 */
const cronParser = () => (createRequire(import.meta.url)('cron-parser') as typeof import('cron-parser')).CronExpressionParser;

export const ROLE_RULES: Rule<RoleFile>[] = [
  {
    name: 'default_sts_ttl <= max_sts_ttl',
    check(role) {
      const def = durationSeconds(role.default_sts_ttl);
      const max = durationSeconds(role.max_sts_ttl);
      return def !== undefined && max !== undefined && def > max
        ? [{ pointer: '/default_sts_ttl', message: '"default_sts_ttl" value must be less than or equal to "max_sts_ttl" value' }]
        : [];
    },
  },
  {
    name: 'STS TTLs within what AWS accepts',
    check(role) {
      if (isVaultEmpty(role.default_sts_ttl) && isVaultEmpty(role.max_sts_ttl)) return [];
      const types = credentialTypesOf(role);
      const sts = typesWhere(types, (r) => r.sts).map((t) => rulesOf(t).sts!);
      if (!sts.length) return [];
      // The tightest bounds among the role's STS types: AssumeRole's 12 h
      // unless the role only issues federation or session tokens (36 h).
      const min = Math.max(...sts.map((r) => r.minSeconds));
      const max = Math.min(...sts.map((r) => r.maxSeconds));
      const out: Finding[] = [];
      for (const field of ['default_sts_ttl', 'max_sts_ttl'] as const) {
        const s = durationSeconds(role[field]);
        if (s === undefined) continue;
        if (s < min) {
          out.push({ pointer: `/${field}`, severity: 'warning', message: `${s} s is below the ${min} s minimum of AWS STS; AWS will refuse credentials of this TTL` });
        } else if (s > max) {
          out.push({ pointer: `/${field}`, severity: 'warning', message: `${s} s is above the ${max} s maximum of AWS STS for ${types.join(',')}; AWS will refuse credentials of this TTL` });
        }
      }
      return out;
    },
  },
  {
    name: 'fields Vault ignores for this credential type',
    check(role) {
      if (isVaultEmpty(role.iam_tags) && isVaultEmpty(role.iam_groups) && isVaultEmpty(role.mfa_serial_number)) return [];
      const types = credentialTypesOf(role);
      const out: Finding[] = [];
      const usedBy = (field: CredentialTypeRules['uses'][number]) => CREDENTIAL_TYPES.filter((t) => rulesOf(t).uses.includes(field));
      const unused = (field: CredentialTypeRules['uses'][number]) => types.length > 0 && !types.some((t) => rulesOf(t).uses.includes(field));
      if (!isVaultEmpty(role.iam_tags) && unused('iam_tags')) {
        out.push({ pointer: '/iam_tags', severity: 'warning', message: `iam_tags only applies to ${usedBy('iam_tags').join(', ')} roles; it has no effect here (use session_tags for ${usedBy('role_arns').join(', ')})` });
      }
      if (!isVaultEmpty(role.iam_groups) && unused('iam_groups')) {
        out.push({ pointer: '/iam_groups', severity: 'warning', message: `iam_groups has no effect on ${types.join(', ')} roles` });
      }
      if (!isVaultEmpty(role.mfa_serial_number) && unused('mfa_serial_number')) {
        out.push({ pointer: '/mfa_serial_number', severity: 'warning', message: `mfa_serial_number only applies to ${usedBy('mfa_serial_number').join(', ')} roles; it has no effect here` });
      }
      return out;
    },
  },
  {
    // Vault refuses it at issue time (secret_access_keys.go getFederationToken): without a policy,
    // GetFederationToken would hand out the root identity's own permissions. A role with iam_groups
    // may get its policy from the groups, which only AWS knows: that is checked at issue time.
    name: 'federation_token needs a policy',
    check(role) {
      if (legacyOf(role) || !credentialTypesOf(role).includes('federation_token')) return [];
      if (!isVaultEmpty(role.policy_document) || !isVaultEmpty(role.policy_arns) || !isVaultEmpty(role.iam_groups)) return [];
      return [{ pointer: '/credential_type', message: 'must specify at least one of policy_arns or policy_document with federation_token credential_type' }];
    },
  },
  {
    name: 'legacy fields',
    check(role) {
      const legacy = legacyOf(role);
      return legacy
        ? [{ pointer: `/${legacy.field}`, severity: 'warning', message: `"${legacy.field}" is a legacy field (Vault upgrades it); use credential_type with ${legacy.field === 'policy' ? 'policy_document' : 'role_arns or policy_arns'}` }]
        : [];
    },
  },
];

/** Fields that shape an issued credential: a static role's key is not issued, it is rotated on its own period. */
const NOT_FOR_STATIC_SINKS = ['role_arn', 'ttl', 'renew_before'] as const;

export const SINK_RULES: Rule<SinkFile>[] = [
  {
    name: 'role or static_role',
    check(sink) {
      if (sink.role === undefined && sink.static_role === undefined) return [{ pointer: '', message: 'must set "role" (a role of the mount) or "static_role" (a static role of the mount)' }];
      if (sink.role !== undefined && sink.static_role !== undefined) return [{ pointer: '/static_role', message: 'a sink delivers either a role ("role") or a static role ("static_role"), not both' }];
      if (sink.static_role === undefined) return [];
      return NOT_FOR_STATIC_SINKS.filter((f) => sink[f] !== undefined).map((f) => ({
        pointer: `/${f}`,
        message: `is not used with "static_role": a static role's key is replaced every rotation_period of the static role`,
      }));
    },
  },
  {
    name: 'renew_before < ttl',
    check(sink) {
      const ttl = durationSeconds(sink.ttl);
      const renew = durationSeconds(sink.renew_before);
      return ttl !== undefined && renew !== undefined && renew >= ttl
        ? [{ pointer: '/renew_before', message: `"renew_before" (${renew} s) must be less than "ttl" (${ttl} s): the credential would be renewed as soon as it is issued` }]
        : [];
    },
  },
];

export const STATIC_ROLE_RULES: Rule<StaticRoleFile>[] = [
  {
    // Vault's validateRotationPeriod: at least one second ("0s" passes the schema's pattern).
    name: 'rotation_period >= 1s',
    check(role) {
      const seconds = durationSeconds(role.rotation_period);
      return seconds === undefined || seconds < 1 ? [{ pointer: '/rotation_period', message: 'role rotation period out of range: must be at least 1 second' }] : [];
    },
  },
  {
    name: 'assume_role_* need assume_role_arn',
    check(role) {
      if (role.assume_role_arn !== undefined) return [];
      return (['assume_role_session_name', 'external_id'] as const)
        .filter((f) => role[f] !== undefined)
        .map((f) => ({ pointer: `/${f}`, message: 'is only used with "assume_role_arn"' }));
    },
  },
];

export const CONFIG_RULES: Rule<ConfigFile>[] = [
  {
    // Vault's template language (vault-template.ts): a template that does not parse, or fails on
    // the fields Vault passes, is reported here with its position, not at the first issuance.
    name: 'username_template',
    check(config) {
      const out: Finding[] = [];
      for (const [name, mount] of Object.entries(config.mounts ?? {})) {
        const template = mount?.username_template;
        if (typeof template !== 'string' || template === '') continue;
        const pointer = `${mountPointer(name)}/username_template`;
        try {
          const parsed = VaultTemplate.parse(template);
          for (const type of ['IAM', 'STS'] as const) parsed.render(usernameData({ role: 'role', mount: name, type }), { now: () => 0 });
        } catch (err) {
          if (!(err instanceof TemplateError)) throw err;
          out.push({ pointer, message: `is not a valid template: ${err.message}` });
        }
      }
      return out;
    },
  },
  {
    name: 'root rotation: a period or a schedule',
    check(config) {
      const out: Finding[] = [];
      for (const [name, mount] of Object.entries(config.mounts ?? {})) {
        const pointer = mountPointer(name);
        const schedule = mount?.rotation_schedule;
        if (schedule !== undefined && durationSeconds(mount?.rotation_period)) {
          out.push({ pointer: `${pointer}/rotation_schedule`, message: 'rotation_schedule and rotation_period are mutually exclusive: set one' });
        }
        if (typeof schedule === 'string') {
          try {
            cronParser().parse(schedule, { tz: 'UTC' });
          } catch (err) {
            out.push({ pointer: `${pointer}/rotation_schedule`, message: `is not a cron expression: ${(err as Error).message}` });
          }
        }
      }
      return out;
    },
  },
  {
    name: 'lease <= lease_max',
    check(config) {
      const out: Finding[] = [];
      for (const [name, mount] of Object.entries(config.mounts ?? {})) {
        const lease = durationSeconds(mount?.lease);
        const max = durationSeconds(mount?.lease_max);
        if (lease !== undefined && max !== undefined && lease > max) {
          out.push({ pointer: `${mountPointer(name)}/lease`, message: '"lease" value must be less than or equal to "lease_max" value' });
        }
      }
      return out;
    },
  },
];

/** The JSON pointer of a mount in credops.yaml (RFC 6901 escapes "~" and "/" in its name). */
function mountPointer(name: string): string {
  return `/mounts/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

export function runRules<T>(rules: readonly Rule<T>[], doc: T): Finding[] {
  const findings: Finding[] = [];
  for (const rule of rules) {
    const found = rule.check(doc);
    if (found.length) findings.push(...found);
  }
  return findings;
}
