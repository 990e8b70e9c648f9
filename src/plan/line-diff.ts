export interface DiffLine {
  op: '+' | '-' | ' ';
  text: string;
}

/** Lines unchanged on both sides of a change that are kept for orientation. */
const CONTEXT_LINES = 2;

/**
 * A line diff (longest common subsequence) with CONTEXT_LINES of unchanged
 * lines around each change; a run of skipped lines becomes one "..." line.
 * Policies are small (IAM caps them at a few KB), so the quadratic table is fine.
 */
export function lineDiff(before: string[], after: string[]): DiffLine[] {
  const n = before.length;
  const m = after.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i]![j] = before[i] === after[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const all: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && before[i] === after[j]) {
      all.push({ op: ' ', text: before[i++]! });
      j++;
    } else if (i < n && (j >= m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      all.push({ op: '-', text: before[i++]! });
    } else {
      all.push({ op: '+', text: after[j++]! });
    }
  }
  return withContext(all);
}

function withContext(lines: DiffLine[]): DiffLine[] {
  const keep = lines.map(() => false);
  lines.forEach((line, index) => {
    if (line.op === ' ') return;
    for (let k = Math.max(0, index - CONTEXT_LINES); k <= Math.min(lines.length - 1, index + CONTEXT_LINES); k++) keep[k] = true;
  });
  const out: DiffLine[] = [];
  lines.forEach((line, index) => {
    if (keep[index]) out.push(line);
    else if (index === 0 || keep[index - 1]) out.push({ op: ' ', text: '...' });
  });
  return out;
}
