import type { Plan } from '../model/types.js';
import { accessGainLines, ACTION_MARKERS, blockTitle, planBlocks, printable, type ChangeBlock, type ChangeLine } from './change-lines.js';
import { summaryLine } from './summary.js';
import { DRIFT_HEADING, DRIFT_INTRO, driftBlocks, SINK_WORK_HEADING, sinkWorkLines, STATIC_HEADING, staticRotationLines } from './drift-lines.js';

/** The first line of the comment: CI finds the comment by it and edits it in place on each push. */
export const PLAN_COMMENT_MARKER = '<!-- credops-plan -->';

/** GitHub refuses a comment body longer than this (characters). */
export const GITHUB_COMMENT_MAX_CHARS = 65_536;
/** Kept free for the closing lines, so a truncated comment is still accepted. */
const TAIL_RESERVE_CHARS = 2_000;
/** The risk callout is read first and must stay short; every reason is also in its role's section. */
const CALLOUT_MAX_LINES = 30;
/** Warnings listed before the rest are only counted. */
const WARNINGS_MAX_LINES = 50;
/** Drift findings listed before the rest are only counted. */
const DRIFT_MAX_LINES = 50;

const ACTION_WORDS = { create: 'create', update: 'update', delete: 'destroy' } as const;

/** For a pull-request comment: summary first, the risk, then one collapsible section per change. */
export function renderMarkdown(plan: Plan): string {
  const head: string[] = [PLAN_COMMENT_MARKER, '### credops plan', '', stateLine(plan), '', `**${escapeText(summaryLine(plan))}**`, ''];
  const blocks = planBlocks(plan);

  const gains = accessGainLines(plan);
  const risks = [
    ...blocks.filter((b) => b.kind === 'role').flatMap((b) => b.widens.map((reason) => `> - ${b.kind} ${code(b.address)}: ${escapeText(reason)}`)),
    ...gains.map((g) => `> - ${escapeText(g)}`),
  ];
  if (risks.length) {
    head.push('> [!WARNING]', '> **This plan widens access.**', ...risks.slice(0, CALLOUT_MAX_LINES));
    if (risks.length > CALLOUT_MAX_LINES) head.push(`> - and ${risks.length - CALLOUT_MAX_LINES} more, in the sections below`);
    head.push('');
  }

  const work = sinkWorkLines(plan);
  if (work.length) {
    head.push(`#### ${escapeText(SINK_WORK_HEADING.replace(/:$/, ''))}`, '', ...work.map((w) => `- ${code(w.text)}`), '');
  }

  const statics = staticRotationLines(plan);
  if (statics.length) {
    head.push(`#### ${escapeText(STATIC_HEADING.replace(/:$/, ''))}`, '', ...statics.map((s) => `- ${code(s.text)}`), '');
  }

  const drift = driftBlocks(plan);
  if (drift.length) {
    head.push(`#### ${DRIFT_HEADING}`, '', escapeText(DRIFT_INTRO), '');
    const lines = drift.flatMap((block) => block.items.map((i) => `- ${code(block.leaseId)}${block.sink ? ` (sink ${code(block.sink)})` : ''} ${code(i.kind)}: ${escapeText(i.detail)}`));
    head.push(...lines.slice(0, DRIFT_MAX_LINES));
    if (lines.length > DRIFT_MAX_LINES) head.push(`- and ${lines.length - DRIFT_MAX_LINES} more: run credops plan --refresh to see them all`);
    head.push('');
  }

  const tail: string[] = [];
  if (plan.warnings.length) {
    tail.push('#### Warnings', '');
    for (const w of plan.warnings.slice(0, WARNINGS_MAX_LINES)) tail.push(`- ${code(`${w.file}:${w.line}:${w.column}`)} ${escapeText(w.message)}`);
    if (plan.warnings.length > WARNINGS_MAX_LINES) tail.push(`- and ${plan.warnings.length - WARNINGS_MAX_LINES} more: run credops validate to see them all`);
    tail.push('');
  }

  let body = `${head.join('\n')}\n`;
  const budget = GITHUB_COMMENT_MAX_CHARS - TAIL_RESERVE_CHARS - tail.join('\n').length;
  for (const [index, block] of blocks.entries()) {
    const section = renderSection(block);
    if (body.length + section.length > budget) {
      const left = blocks.length - index;
      body += `${escapeText(`${left} more ${left === 1 ? 'change is' : 'changes are'} not shown: GitHub limits a comment's length. Run credops plan to see the whole plan.`)}\n\n`;
      break;
    }
    body += section;
  }
  return `${body}${tail.length ? `${tail.join('\n')}\n` : ''}`.replace(/\n+$/, '\n');
}

function stateLine(plan: Plan): string {
  const applied = plan.state.commit === undefined ? 'nothing applied yet' : `applied ${code(plan.state.commit)}`;
  return `Repo ${code(plan.repo)} at ${code(plan.commit)}; state serial ${plan.state.serial} (${applied}).`;
}

function renderSection(block: ChangeBlock): string {
  const notes = [
    ...(block.leasesToRevoke ? [`${block.leasesToRevoke} ${block.leasesToRevoke === 1 ? 'lease' : 'leases'} will be revoked`] : []),
    ...(block.widens.length ? ['⚠️ widens access'] : []),
  ];
  const title = `<code>${ACTION_MARKERS[block.action]}</code> ${ACTION_WORDS[block.action]} ${escapeHtml(printable(blockTitle(block)))}`;
  const lines = block.lines.flatMap(diffLines);
  const fence = '`'.repeat(Math.max(3, longestRun(lines.join('\n'), '`') + 1));
  return [
    `<details><summary>${title}${notes.map((n) => ` · ${escapeHtml(n)}`).join('')}</summary>`,
    '',
    `${fence}diff`,
    ...lines,
    fence,
    '',
    '</details>',
    '',
    '',
  ].join('\n');
}

/** GitHub colours a diff block by the first character only: a change in place becomes a removal and an addition. */
function diffLines(line: ChangeLine): string[] {
  const indent = ' '.repeat(4 * line.depth);
  const render = (marker: string, text: string) => `${marker} ${indent}${printable(text)}`.trimEnd();
  if (line.marker === '~') return line.split ? [render('-', line.split[0]), render('+', line.split[1])] : [render(' ', line.text)];
  return [render(line.marker, line.text)];
}

function longestRun(text: string, char: string): number {
  let longest = 0;
  let run = 0;
  for (const c of text) {
    run = c === char ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  return longest;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Plain text in a markdown line: no emphasis, link, table or HTML can start
 * from it, and an `@name` (say, "@policies/x.json") goes in a code span, where
 * GitHub does not turn it into a mention that notifies someone.
 */
function escapeText(text: string): string {
  return text
    .replace(/\s+/g, ' ')
    .split(/(@\S+)/)
    .map((part) => (part.startsWith('@') ? code(part) : printable(part).replace(/[\\`*_[\]|~]/g, '\\$&').replace(/[<&]/g, (c) => `&#${c.charCodeAt(0)};`)))
    .join('');
}

/** An inline code span that holds any text, backticks included (CommonMark: a longer fence). */
function code(text: string): string {
  const clean = printable(text.replace(/\s+/g, ' '));
  const fence = '`'.repeat(longestRun(clean, '`') + 1);
  const pad = clean.startsWith('`') || clean.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${clean}${pad}${fence}`;
}
