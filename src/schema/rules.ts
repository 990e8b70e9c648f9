import {
  STS_ASSUME_ROLE_MAX_SECONDS,
  STS_ASSUME_ROLE_MIN_SECONDS,
  STS_FEDERATION_MAX_SECONDS,
  STS_SESSION_TOKEN_MAX_SECONDS,
} from '../limits.js';
import type { ConfigFile, RoleFile, SinkFile } from '../model/schema-types.js';
import type { Finding } from './finding.js';
import { credentialTypesOf, durationSeconds, isVaultEmpty, legacyOf } from './vault-values.js';

/**
 * Vault's rules that JSON Schema cannot state with a good message: they
 * compare two fields' parsed values or only warn. Each runs on a document the
 * schema already accepted. The fields themselves live in schemas/.
 */
export interface Rule<T> {
  name: string;
  check(doc: T): Finding[];
}

const STS_TYPES = ['assumed_role', 'federation_token', 'session_token'];

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
      const types = credentialTypesOf(role);
      if (!types.some((t) => STS_TYPES.includes(t))) return [];
      // The tightest upper bound among the role's STS types: AssumeRole's 12 h
      // unless the role only issues federation or session tokens (36 h).
      const max = types.includes('assumed_role') ? STS_ASSUME_ROLE_MAX_SECONDS : Math.max(STS_FEDERATION_MAX_SECONDS, STS_SESSION_TOKEN_MAX_SECONDS);
      const out: Finding[] = [];
      for (const field of ['default_sts_ttl', 'max_sts_ttl'] as const) {
        const s = durationSeconds(role[field]);
        if (s === undefined) continue;
        if (s < STS_ASSUME_ROLE_MIN_SECONDS) {
          out.push({ pointer: `/${field}`, severity: 'warning', message: `${s} s is below the ${STS_ASSUME_ROLE_MIN_SECONDS} s minimum of AWS STS; AWS will refuse credentials of this TTL` });
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
      const types = credentialTypesOf(role);
      const out: Finding[] = [];
      if (!isVaultEmpty(role.iam_tags) && !types.includes('iam_user')) {
        out.push({ pointer: '/iam_tags', severity: 'warning', message: 'iam_tags only applies to iam_user roles; it has no effect here (use session_tags for assumed_role)' });
      }
      if (!isVaultEmpty(role.iam_groups) && types.length > 0 && types.every((t) => t === 'session_token')) {
        out.push({ pointer: '/iam_groups', severity: 'warning', message: 'iam_groups has no effect on session_token roles' });
      }
      if (!isVaultEmpty(role.mfa_serial_number) && !types.includes('session_token')) {
        out.push({ pointer: '/mfa_serial_number', severity: 'warning', message: 'mfa_serial_number only applies to session_token roles; it has no effect here' });
      }
      return out;
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

export const SINK_RULES: Rule<SinkFile>[] = [
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

export const CONFIG_RULES: Rule<ConfigFile>[] = [
  {
    name: 'lease <= lease_max',
    check(config) {
      const out: Finding[] = [];
      for (const [name, mount] of Object.entries(config.mounts ?? {})) {
        const lease = durationSeconds(mount?.lease);
        const max = durationSeconds(mount?.lease_max);
        if (lease !== undefined && max !== undefined && lease > max) {
          out.push({ pointer: `/mounts/${name.replace(/~/g, '~0').replace(/\//g, '~1')}/lease`, message: '"lease" value must be less than or equal to "lease_max" value' });
        }
      }
      return out;
    },
  },
];

export function runRules<T>(rules: readonly Rule<T>[], doc: T): Finding[] {
  return rules.flatMap((r) => r.check(doc));
}
