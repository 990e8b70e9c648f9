import type { Plan } from '../model/types.js';

export interface RenderOptions {
  /** ANSI colour (text only). The CLI sets it from the terminal and NO_COLOR. */
  color?: boolean;
}

/** One output format of a plan (src/plan/index.ts lists them). */
export type PlanRenderer = (plan: Plan, opts: RenderOptions) => string;
