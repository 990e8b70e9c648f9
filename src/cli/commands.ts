import type { Command } from 'commander';
import type { Run } from './runtime.js';
import { registerCreds } from './creds.js';
import { registerSts } from './sts.js';
import { registerLease } from './lease.js';
import { registerValidate } from './validate.js';
import { registerPlan } from './plan.js';
import { registerReconcile } from './reconcile.js';
import { registerStatus } from './status.js';
import { registerConfig } from './config.js';
import { registerTidy } from './tidy.js';
import { registerWatch } from './watch.js';
import { registerCredentialProcess } from './credential-process.js';
import { registerState } from './state.js';
import { registerVaultPaths } from './vault-paths.js';
import { registerStaticCreds } from './static-creds.js';
import { registerServer } from './server.js';

/** A command file exports one of these; this list is the only place commands are named. */
export type RegisterCommand = (program: Command, run: Run) => void;

export const commands: RegisterCommand[] = [
  registerValidate,
  registerPlan,
  registerReconcile,
  registerCreds,
  registerSts,
  registerLease,
  registerStatus,
  registerConfig,
  registerTidy,
  registerWatch,
  registerCredentialProcess,
  registerState,
  registerVaultPaths,
  registerStaticCreds,
  registerServer,
];
