import { parseDuration } from '../duration.js';
import type { ConfigFile, Mount } from '../model/schema-types.js';
import type { EngineConfig, MountConfig } from '../model/types.js';
import type { MountGlob } from '../schema/cross-file.js';
import { CONFIG_RULES } from '../schema/rules.js';
import { commaList, durationSeconds } from '../schema/vault-values.js';
import { validateAgainstSchema } from '../schema/validate-document.js';
import type { LoadContext } from './context.js';

import { CONFIG_FILES } from './config-files.js';

export { CONFIG_FILES };

export interface LoadedConfig {
  /** Undefined when credops.yaml has an error. */
  config?: EngineConfig;
  /** Which role files belong to which mount: from the config, or as much of it as can be read when it is broken. */
  mountGlobs: MountGlob[];
}

/**
 * credops.yaml, or Vault's defaults without one. A broken credops.yaml still
 * lets the role files be checked, against the globs it does state.
 */
export function loadConfig(ctx: LoadContext): LoadedConfig {
  const file = CONFIG_FILES.map((p) => ctx.files.get(p)).find(Boolean);
  if (!file) {
    const config = normaliseConfig(defaultConfig());
    return { config, mountGlobs: Object.values(config.mounts) };
  }
  const source = ctx.parse(file);
  const raw = source ? ctx.check<ConfigFile>(source, 'config', CONFIG_RULES) : undefined;
  if (!raw) return { mountGlobs: fallbackGlobs(source?.value) };
  const config = normaliseConfig(raw);
  return { config, mountGlobs: Object.values(config.mounts) };
}

/** What a repo without credops.yaml means: one mount "aws" with Vault's defaults. */
function defaultConfig(): ConfigFile {
  const config: ConfigFile = { version: 1 };
  // The schema fills in the defaults (mounts.aws, lease, lease_max, roles).
  validateAgainstSchema('config', config);
  return config;
}

function normaliseConfig(raw: ConfigFile): EngineConfig {
  const mounts: Record<string, MountConfig> = {};
  for (const [name, m] of Object.entries(raw.mounts ?? {}) as [string, Mount][]) {
    const mount: MountConfig = {
      name,
      lease: parseDuration(m.lease as string | number),
      lease_max: parseDuration(m.lease_max as string | number),
      roles: m.roles!,
    };
    if (m.static_roles !== undefined) mount.static_roles = m.static_roles;
    for (const key of ['region', 'iam_endpoint', 'sts_endpoint', 'sts_region', 'role_arn', 'external_id', 'session_name', 'max_retries', 'username_template'] as const) {
      if (m[key] !== undefined) (mount as unknown as Record<string, unknown>)[key] = m[key];
    }
    // Vault takes these as lists or comma-separated strings (TypeCommaStringSlice).
    for (const key of ['sts_fallback_endpoints', 'sts_fallback_regions'] as const) {
      const list = commaList(m[key]);
      if (list.length) mount[key] = list;
    }
    if (m.rotation_schedule !== undefined) mount.rotation_schedule = m.rotation_schedule;
    for (const key of ['connect_timeout', 'request_timeout', 'rotation_period'] as const) {
      const seconds = durationSeconds(m[key]);
      if (seconds !== undefined) mount[key] = seconds;
    }
    mounts[name] = mount;
  }
  const config: EngineConfig = { mounts };
  if (raw.state !== undefined) config.state = raw.state;
  if (raw.audit_log !== undefined) config.audit_log = raw.audit_log;
  return config;
}

function fallbackGlobs(value: unknown): MountGlob[] {
  const mounts = (value as { mounts?: unknown } | undefined)?.mounts;
  if (!mounts || typeof mounts !== 'object') return [{ name: 'aws', roles: 'roles/*.json', static_roles: 'static-roles/*.json' }];
  return Object.entries(mounts as Record<string, unknown>).flatMap(([name, m]) => {
    const roles = (m as { roles?: unknown } | null)?.roles;
    const staticRoles = (m as { static_roles?: unknown } | null)?.static_roles;
    const statics = typeof staticRoles === 'string' ? { static_roles: staticRoles } : name === 'aws' ? { static_roles: 'static-roles/*.json' } : {};
    if (typeof roles === 'string') return [{ name, roles, ...statics }];
    return name === 'aws' ? [{ name, roles: 'roles/*.json', ...statics }] : [];
  });
}
