/**
 * The plan: diff(desired, state) and its three renderings. Pure: plain values
 * in, plain values out (STYLE.md §6).
 */
import { UserError } from '../errors.js';
import type { Plan } from '../model/types.js';
import { renderJson } from './render-json.js';
import { renderMarkdown } from './render-markdown.js';
import type { PlanRenderer, RenderOptions } from './render-options.js';
import { renderText } from './render-text.js';

export { makePlan } from './diff.js';
export { policyDelta } from './policy.js';
export { normalisePolicy } from './normalise.js';
export { parsePlanJson, PLAN_JSON_FORMAT_VERSION } from './render-json.js';
export { PLAN_COMMENT_MARKER } from './render-markdown.js';
export { planHasChanges, planHasDrift, planHasWork, summaryLine } from './summary.js';
export type { PlanRenderer, RenderOptions } from './render-options.js';

/** The one list of plan formats: `--format` accepts exactly these keys. */
const renderers = {
  text: renderText,
  markdown: renderMarkdown,
  json: renderJson,
} satisfies Record<string, PlanRenderer>;

export type PlanFormat = keyof typeof renderers;
export const PLAN_FORMATS = Object.keys(renderers) as PlanFormat[];

export function renderPlan(plan: Plan, format: PlanFormat, opts: RenderOptions = {}): string {
  if (!Object.hasOwn(renderers, format)) throw new UserError(`unknown plan format "${String(format)}": use one of ${PLAN_FORMATS.join(', ')}`);
  return renderers[format](plan, opts);
}
