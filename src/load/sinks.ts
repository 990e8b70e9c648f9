import { parseDuration } from '../duration.js';
import type { SinkFile } from '../model/schema-types.js';
import type { SinkSpec } from '../model/types.js';
import { sinkTypes } from '../schema/ajv.js';
import { checkSinkTarget, type MountGlob } from '../schema/cross-file.js';
import { toDiagnostics } from '../schema/finding.js';
import { SINK_RULES } from '../schema/rules.js';
import { durationSeconds } from '../schema/vault-values.js';
import type { LoadContext } from './context.js';
import type { RolesByMount } from './roles.js';
import type { StaticRolesByMount } from './static-roles.js';

const SINK_FILE = /^sinks\/[^/]+\.(?:ya?ml|json)$/;
const DEFAULT_GRACE_SECONDS = 300;

/** sinks/*.yaml, each checked against the mount and role it names. */
export function loadSinks(ctx: LoadContext, mountGlobs: MountGlob[], roles: RolesByMount, staticRoles: StaticRolesByMount = new Map()): SinkSpec[] {
  const sinks: SinkSpec[] = [];
  const types = sinkTypes();
  const mounts = mountGlobs.map((m) => m.name);
  for (const file of ctx.matching(SINK_FILE)) {
    const source = ctx.parse(file);
    const raw = source ? ctx.check<SinkFile>(source, 'sink', SINK_RULES) : undefined;
    if (!source || !raw) continue;
    const target = checkSinkTarget(raw, mounts, roles.get(raw.mount ?? 'aws'), staticRoles.get(raw.mount ?? 'aws'));
    ctx.diagnostics.push(...toDiagnostics(source, target));
    if (target.length === 0) sinks.push(normaliseSink(raw, file.path, types));
  }
  return sinks;
}

function normaliseSink(raw: SinkFile, path: string, types: readonly string[]): SinkSpec {
  const type = types.find((t) => raw[t] !== undefined)!;
  const sink: SinkSpec = {
    name: path.slice(path.lastIndexOf('/') + 1).replace(/\.(?:ya?ml|json)$/i, ''),
    source: path,
    mount: raw.mount ?? 'aws',
    role: (raw.static_role ?? raw.role)!,
    type,
    // The sink schema has filled in the type's defaults.
    config: { ...(raw[type] as Record<string, unknown>) },
    grace: raw.grace === null || raw.grace === undefined || raw.grace === '' ? DEFAULT_GRACE_SECONDS : parseDuration(raw.grace),
    deletion_policy: raw.deletion_policy ?? 'delete',
    verify: raw.verify ?? true,
  };
  const ttl = durationSeconds(raw.ttl);
  const renew = durationSeconds(raw.renew_before);
  if (ttl !== undefined) sink.ttl = ttl;
  if (renew !== undefined) sink.renew_before = renew;
  if (raw.role_arn !== undefined) sink.role_arn = raw.role_arn;
  if (raw.adopt) sink.adopt = true;
  if (raw.static_role !== undefined) sink.static_role = true;
  return sink;
}
