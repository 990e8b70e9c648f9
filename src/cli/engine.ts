import { resolve } from 'node:path';
import { AuditLog } from '../audit.js';
import { systemClock } from '../clock.js';
import { createAwsClients, type AwsClients } from '../aws/clients.js';
import { Engine } from '../engine/index.js';
import type { StateStore } from '../state/store.js';
import type { Io } from './runtime.js';

/** The audit log sits beside the default state unless CREDOPS_AUDIT_LOG names another file. */
export function auditLogPath(io: Io): string {
  return resolve(io.cwd, io.env.CREDOPS_AUDIT_LOG ?? '.credops/audit.log');
}

/**
 * Builds the secrets engine for a command: AWS clients are created lazily, on
 * first use. Pass the clients when the command also needs them elsewhere
 * (sinks), so that one run shares one set of connections and retry state.
 */
export function makeEngine(state: StateStore, io: Io, clients: AwsClients = createAwsClients({ state, env: io.env })): Engine {
  return new Engine({
    state,
    clients,
    clock: systemClock,
    audit: new AuditLog(auditLogPath(io)),
  });
}
