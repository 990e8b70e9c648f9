import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';

/**
 * Runs the steps of a composite action (action.yml) the way the GitHub runner does,
 * as far as this project's action needs: `${{ }}` expressions over the inputs,
 * github, steps and env contexts, `if:` conditions, `bash --noprofile --norc -eo pipefail`
 * and the GITHUB_OUTPUT file. Steps that `uses:` another action, and steps the test
 * cannot run here (npm ci), are given to the caller's `replace` hooks.
 */

export interface ActionStep {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  shell?: string;
  if?: string;
  env?: Record<string, string>;
  with?: Record<string, string>;
}

export interface ActionFile {
  inputs: Record<string, { default?: string; required?: boolean }>;
  outputs: Record<string, { value: string }>;
  runs: { using: string; steps: ActionStep[] };
}

export function loadAction(path: string): ActionFile {
  return parse(readFileSync(path, 'utf8')) as ActionFile;
}

export interface StepResult {
  id: string;
  outcome: 'success' | 'failure' | 'skipped';
  code: number;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
}

export interface Contexts {
  inputs: Record<string, string>;
  github: Record<string, string>;
  env: Record<string, string>;
  steps: Record<string, { outputs: Record<string, string>; outcome: string }>;
}

export type StepReplacement = (step: ActionStep, ctx: Contexts) => Promise<Partial<StepResult>> | Partial<StepResult>;

export interface RunActionOptions {
  action: ActionFile;
  /** Values of `with:`; defaults come from action.yml, as the runner fills them. */
  with: Record<string, string>;
  github: Record<string, string>;
  /** The job's environment (GITHUB_*, RUNNER_TEMP, PATH, ...). */
  env: Record<string, string>;
  cwd: string;
  /** Keyed by step id or by `uses:` value. */
  replace?: Record<string, StepReplacement>;
}

export interface ActionRun {
  steps: StepResult[];
  outputs: Record<string, string>;
  failed: boolean;
}

export async function runAction(opts: RunActionOptions): Promise<ActionRun> {
  const inputs: Record<string, string> = {};
  const ctx: Contexts = { inputs, github: opts.github, env: opts.env, steps: {} };
  for (const [name, spec] of Object.entries(opts.action.inputs)) {
    inputs[name] = opts.with[name] ?? interpolate(spec.default ?? '', ctx);
  }
  for (const name of Object.keys(opts.with)) {
    if (!(name in opts.action.inputs)) throw new Error(`action.yml has no input "${name}"`);
  }
  const results: StepResult[] = [];
  let failed = false;
  for (const [i, step] of opts.action.runs.steps.entries()) {
    const id = step.id ?? `__step${i}`;
    const condition = step.if ?? 'success()';
    const run = truthy(evaluate(stripBraces(condition), ctx, failed));
    let result: StepResult;
    if (!run) {
      result = { id, outcome: 'skipped', code: 0, stdout: '', stderr: '', outputs: {} };
    } else {
      const hook = (step.id && opts.replace?.[step.id]) || (step.uses && opts.replace?.[step.uses]);
      if (hook) {
        result = { id, outcome: 'success', code: 0, stdout: '', stderr: '', outputs: {}, ...(await hook(step, ctx)) };
      } else if (step.uses) {
        throw new Error(`step ${step.name ?? id} uses ${step.uses}: give the test a replacement for it`);
      } else {
        result = await runShellStep(id, step, ctx, opts);
      }
    }
    if (result.outcome === 'failure') failed = true;
    results.push(result);
    ctx.steps[id] = { outputs: result.outputs, outcome: result.outcome };
  }
  const outputs: Record<string, string> = {};
  for (const [name, spec] of Object.entries(opts.action.outputs)) outputs[name] = interpolate(spec.value, ctx);
  return { steps: results, outputs, failed };
}

async function runShellStep(id: string, step: ActionStep, ctx: Contexts, opts: RunActionOptions): Promise<StepResult> {
  if (step.shell !== 'bash') throw new Error(`step ${id}: only shell: bash is supported here (got ${step.shell})`);
  const dir = mkdtempSync(join(tmpdir(), 'credops-step-'));
  try {
    const script = join(dir, 'script.sh');
    const outputFile = join(dir, 'output');
    writeFileSync(script, step.run ?? '');
    writeFileSync(outputFile, '');
    const stepEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(step.env ?? {})) stepEnv[k] = interpolate(String(v), ctx);
    const env = { ...opts.env, ...stepEnv, GITHUB_OUTPUT: outputFile };
    // The runner's command line for `shell: bash`.
    const { code, stdout, stderr } = await exec('bash', ['--noprofile', '--norc', '-eo', 'pipefail', script], env, opts.cwd);
    return {
      id,
      outcome: code === 0 ? 'success' : 'failure',
      code,
      stdout,
      stderr,
      outputs: parseOutputFile(readFileSync(outputFile, 'utf8')),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function exec(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  cwd: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
  });
}

/** `name=value` lines and `name<<DELIMITER` blocks, as the runner reads GITHUB_OUTPUT. */
export function parseOutputFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== heredoc[2]; i++) value.push(lines[i]!);
      out[heredoc[1]!] = value.join('\n');
      continue;
    }
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

// ---- expressions: the subset of GitHub's expression language action.yml uses ----

type Value = string | boolean | number | null;

export function interpolate(template: string, ctx: Contexts): string {
  return template.replace(/\$\{\{(.*?)\}\}/g, (_, expr: string) => toStr(evaluate(expr, ctx, false)));
}

function stripBraces(condition: string): string {
  const m = /^\s*\$\{\{(.*)\}\}\s*$/s.exec(condition);
  return m ? m[1]! : condition;
}

function toStr(v: Value): string {
  return v === null ? '' : String(v);
}

function truthy(v: Value): boolean {
  return v !== null && v !== false && v !== '' && v !== 0;
}

/** GitHub compares strings case-insensitively and null as the empty string here. */
function equal(a: Value, b: Value): boolean {
  if (typeof a === 'boolean' || typeof b === 'boolean') return truthy(a) === truthy(b);
  return toStr(a).toLowerCase() === toStr(b).toLowerCase();
}

export function evaluate(expr: string, ctx: Contexts, failed: boolean): Value {
  const tokens = expr.match(/'(?:[^']|'')*'|==|!=|&&|\|\||[()!]|[A-Za-z_][\w.-]*(?:\(\))?|\d+/g) ?? [];
  let pos = 0;
  const peek = () => tokens[pos];
  const next = () => tokens[pos++];

  function primary(): Value {
    const t = next();
    if (t === undefined) throw new Error(`unexpected end of expression: ${expr}`);
    if (t === '(') {
      const v = or();
      if (next() !== ')') throw new Error(`missing ) in ${expr}`);
      return v;
    }
    if (t === '!') return !truthy(primary());
    if (t.startsWith("'")) return t.slice(1, -1).replace(/''/g, "'");
    if (/^\d+$/.test(t)) return Number(t);
    if (t === 'true' || t === 'false') return t === 'true';
    if (t === 'null') return null;
    if (t === 'success()') return !failed;
    if (t === 'failure()') return failed;
    if (t === 'always()') return true;
    if (t === 'cancelled()') return false;
    return lookup(t);
  }
  function comparison(): Value {
    let v = primary();
    while (peek() === '==' || peek() === '!=') {
      const op = next();
      const rhs = primary();
      v = op === '==' ? equal(v, rhs) : !equal(v, rhs);
    }
    return v;
  }
  function and(): Value {
    let v = comparison();
    while (peek() === '&&') {
      next();
      const rhs = comparison();
      v = truthy(v) ? rhs : v;
    }
    return v;
  }
  function or(): Value {
    let v = and();
    while (peek() === '||') {
      next();
      const rhs = and();
      v = truthy(v) ? v : rhs;
    }
    return v;
  }
  function lookup(path: string): Value {
    const [root, ...rest] = path.split('.');
    let cur: unknown = (ctx as unknown as Record<string, unknown>)[root!];
    if (cur === undefined) throw new Error(`unknown context "${root}" in ${expr}`);
    for (const key of rest) cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[key] : undefined;
    return cur === undefined ? null : (cur as Value);
  }

  const value = or();
  if (pos !== tokens.length) throw new Error(`cannot parse expression: ${expr}`);
  return value;
}
