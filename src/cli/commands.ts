import type { Command } from 'commander';
import type { Run } from './runtime.js';
import { registerValidate } from './validate.js';
import { registerPlan } from './plan.js';
import { registerReconcile } from './reconcile.js';

/** A command file exports one of these; this list is the only place commands are named. */
export type RegisterCommand = (program: Command, run: Run) => void;

export const commands: RegisterCommand[] = [
  registerValidate,
  registerPlan,
  registerReconcile,
];
