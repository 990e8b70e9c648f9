import type { DesiredModel, StaticRoleSpec, StaticRotation } from '../model/types.js';
import { nextStaticRotation, readStaticRecord, staticRotationDue } from '../state/static-creds.js';
import type { StateStore } from '../state/store.js';

/**
 * When static roles' keys are next replaced, from the state alone: what plan
 * and watch need, without the AWS SDK that the rotation itself loads
 * (static-roles.ts; issue #11: a plan imports no AWS SDK client).
 */

/** Every static role of the repo and when its key is next replaced (the plan's list). Reads the state only. */
export async function staticRotations(state: StateStore, desired: DesiredModel, now: number): Promise<StaticRotation[]> {
  const out: StaticRotation[] = [];
  for (const spec of desired.staticRoles ?? []) {
    const record = await readStaticRecord(state, spec.mount, spec.name);
    const due = staticRotationDue(spec, record, now);
    out.push({ mount: spec.mount, name: spec.name, username: spec.username, ...(due ? { due } : { at: nextStaticRotation(spec, record) }) });
  }
  return out;
}

/** The earliest next rotation of the repo's static roles (epoch ms; 0 when one is due now), for `watch`. */
export async function nextStaticDeadline(state: StateStore, staticRoles: StaticRoleSpec[]): Promise<number | undefined> {
  let earliest: number | undefined;
  for (const spec of staticRoles) {
    const at = nextStaticRotation(spec, await readStaticRecord(state, spec.mount, spec.name));
    if (earliest === undefined || at < earliest) earliest = at;
  }
  return earliest;
}

