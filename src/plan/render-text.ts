import { formatDiagnostic } from '../errors.js';
import type { Plan } from '../model/types.js';
import { ACTION_MARKERS, blockTitle, planBlocks, printable, type ChangeLine, type Marker, accessGainLines, ACCESS_HEADING } from './change-lines.js';
import type { RenderOptions } from './render-options.js';
import { DRIFT_HEADING, DRIFT_INTRO, driftBlocks, driftTitle, SINK_WORK_HEADING, sinkWorkLines, STATIC_HEADING, staticRotationLines } from './drift-lines.js';
import { summaryLine } from './summary.js';

const ANSI = { reset: '\u001b[0m', bold: '\u001b[1m', dim: '\u001b[2m', red: '\u001b[31m', green: '\u001b[32m', yellow: '\u001b[33m' };
const MARKER_COLOURS: Record<Marker, string> = { '+': ANSI.green, '-': ANSI.red, '~': ANSI.yellow, ' ': '', '#': ANSI.dim, '!': ANSI.red + ANSI.bold };

/** Terraform's layout: a block per change, two spaces then the marker, fields four spaces deeper. */
export function renderText(plan: Plan, opts: RenderOptions = {}): string {
  const paint = (colour: string, text: string) => (opts.color && colour ? `${colour}${text}${ANSI.reset}` : text);
  const out: string[] = [];

  const drift = driftBlocks(plan);
  if (drift.length) {
    out.push(paint(ANSI.bold, `Note: ${DRIFT_HEADING}`), '', DRIFT_INTRO, '');
    for (const block of drift) {
      out.push(`  ${paint(MARKER_COLOURS['!'], '!')} ${paint(ANSI.bold, printable(driftTitle(block)))}`);
      for (const item of block.items) out.push(`      ${printable(`${item.kind}: ${item.detail}`)}`);
      out.push('');
    }
  }

  const work = sinkWorkLines(plan);
  if (work.length) {
    out.push(paint(ANSI.bold, SINK_WORK_HEADING), '');
    for (const w of work) out.push(`  ${paint(MARKER_COLOURS[w.marker], w.marker)} ${printable(w.text)}`);
    out.push('');
  }

  const statics = staticRotationLines(plan);
  if (statics.length) {
    out.push(paint(ANSI.bold, STATIC_HEADING), '');
    for (const s of statics) out.push(`  ${paint(MARKER_COLOURS[s.marker], s.marker)} ${printable(s.text)}`);
    out.push('');
  }

  const gains = accessGainLines(plan);
  if (gains.length) {
    out.push(paint(ANSI.bold, ACCESS_HEADING), '');
    for (const g of gains) out.push(`  ${paint(MARKER_COLOURS['!'], '!')} ${printable(g)}`);
    out.push('');
  }

  const blocks = planBlocks(plan);
  if (blocks.length) {
    out.push('credops will perform the following actions:', '');
    for (const block of blocks) {
      const marker = ACTION_MARKERS[block.action];
      out.push(`  ${paint(MARKER_COLOURS[marker], marker)} ${paint(ANSI.bold, printable(blockTitle(block)))}`);
      for (const line of block.lines) out.push(renderLine(line, paint));
      out.push('');
    }
  }

  if (plan.warnings.length) {
    out.push(paint(ANSI.yellow + ANSI.bold, 'Warnings:'));
    for (const w of plan.warnings) out.push(`  ${printable(formatDiagnostic({ ...w, severity: 'warning' }))}`);
    out.push('');
  }

  out.push(paint(ANSI.bold, summaryLine(plan)));
  return `${out.join('\n')}\n`;
}

function renderLine(line: ChangeLine, paint: (colour: string, text: string) => string): string {
  const indent = ' '.repeat(6 + 4 * line.depth);
  const text = printable(line.text);
  if (line.marker === '!' || line.marker === '#') return `${indent}${paint(MARKER_COLOURS[line.marker], `${line.marker} ${text}`)}`;
  return `${indent}${paint(MARKER_COLOURS[line.marker], line.marker)} ${text}`.trimEnd();
}
