import { createHash, randomInt, randomUUID } from 'node:crypto';

/**
 * Vault's template language for `username_template` (hashicorp/vault
 * sdk/helper/template): Go's text/template with Vault's functions. What a
 * username template uses of it: text and `{{ pipeline }}` actions (with `{{-`
 * and `-}}` trimming), `if` / `else if` / `else` / `end`, pipelines with `|`,
 * parenthesised pipelines, `.Field` values, string, raw-string and number
 * literals, and the functions below. `with`, `range`, variables and
 * `define`/`template` are not part of it: a template using them is refused
 * when parsed, so `credops validate` reports it.
 */

export type TemplateValue = string | number | boolean;

/** The fields a template reads (`.Type`, `.DisplayName`, ...). */
export type TemplateData = Record<string, TemplateValue>;

export interface TemplateDeps {
  now(): number;
  /** length random characters of [A-Za-z0-9] (Vault: base62). */
  random?(length: number): string;
  uuid?(): string;
}

/** A template that does not parse, or whose rendering failed; `column` is 1-based in the template text. */
export class TemplateError extends Error {
  override readonly name = 'TemplateError';
  constructor(
    message: string,
    readonly column?: number,
  ) {
    super(column === undefined ? message : `${message} (at column ${column})`);
  }
}

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipe: Pipeline; at: number }
  | { kind: 'if'; branches: { cond: Pipeline; body: Node[] }[]; otherwise: Node[] };

interface Pipeline {
  commands: Operand[][];
  at: number;
}

type Operand =
  | { kind: 'field'; name: string; at: number }
  | { kind: 'literal'; value: TemplateValue; at: number }
  | { kind: 'call'; name: string; at: number }
  | { kind: 'pipe'; pipe: Pipeline; at: number };

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function randomBase62(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += BASE62[randomInt(BASE62.length)];
  return out;
}

/** Vault's normalizeDisplayName: what AWS does not allow in a name becomes "_". */
export function normalizeName(name: string): string {
  return name.replace(/[^\w+=,.@-]/g, '_');
}

/**
 * The fields a username template reads: Vault's (.Type "IAM" for IAM users and
 * assumed-role sessions, "STS" for federation tokens; .DisplayName;
 * .PolicyName, the role's name as Vault passes it) and credops's .RoleName
 * and .MountName.
 */
export function usernameData(input: { role: string; mount: string; type: 'IAM' | 'STS'; displayName?: string }): TemplateData {
  const role = normalizeName(input.role);
  return { Type: input.type, DisplayName: normalizeName(input.displayName ?? 'credops'), PolicyName: role, RoleName: role, MountName: input.mount };
}

/** A parsed template: parse once (at validate time), render each time. */
export class VaultTemplate {
  private constructor(
    readonly source: string,
    private readonly nodes: Node[],
  ) {}

  static parse(source: string): VaultTemplate {
    return new VaultTemplate(source, new Parser(source).parse());
  }

  render(data: TemplateData, deps: TemplateDeps): string {
    return renderNodes(this.nodes, data, deps);
  }

  /** The names of the fields (.X) and functions the template uses. */
  uses(): { fields: string[]; functions: string[] } {
    const fields = new Set<string>();
    const functions = new Set<string>();
    const pipe = (p: Pipeline): void => {
      for (const c of p.commands)
        for (const o of c) {
          if (o.kind === 'field') fields.add(o.name);
          else if (o.kind === 'call') functions.add(o.name);
          else if (o.kind === 'pipe') pipe(o.pipe);
        }
    };
    const walk = (nodes: Node[]): void => {
      for (const n of nodes) {
        if (n.kind === 'action') pipe(n.pipe);
        if (n.kind === 'if') {
          for (const b of n.branches) {
            pipe(b.cond);
            walk(b.body);
          }
          walk(n.otherwise);
        }
      }
    };
    walk(this.nodes);
    return { fields: [...fields], functions: [...functions] };
  }
}

// ---- parsing -------------------------------------------------------------------

interface Action {
  /** Offset of the text inside the braces, in the template. */
  at: number;
  text: string;
}

class Parser {
  private pos = 0;
  constructor(private readonly src: string) {}

  parse(): Node[] {
    const { nodes, ended } = this.block(false);
    if (ended) throw new TemplateError(`unexpected {{${ended.word}}}`, ended.at + 1);
    return nodes;
  }

  /** Nodes up to {{else}}, {{else if}} or {{end}} (inside an if), or the end of the text. */
  private block(inIf: boolean): { nodes: Node[]; ended?: { word: 'else' | 'end'; at: number; rest: string } } {
    const nodes: Node[] = [];
    for (;;) {
      const open = this.src.indexOf('{{', this.pos);
      if (open < 0) {
        if (inIf) throw new TemplateError('missing {{end}}', this.src.length + 1);
        pushText(nodes, this.src.slice(this.pos));
        return { nodes };
      }
      let text = this.src.slice(this.pos, open);
      const close = this.src.indexOf('}}', open + 2);
      if (close < 0) throw new TemplateError('unclosed action: "{{" without "}}"', open + 1);
      let inner = this.src.slice(open + 2, close);
      let at = open + 2;
      if (/^-\s/.test(inner)) {
        text = text.replace(/\s+$/, '');
        inner = inner.slice(1);
        at++;
      }
      pushText(nodes, text);
      this.pos = close + 2;
      if (/\s-$/.test(inner)) {
        inner = inner.slice(0, -1);
        const rest = /^\s*/.exec(this.src.slice(this.pos))![0];
        this.pos += rest.length;
      }
      const action: Action = { at, text: inner };
      const word = /^\s*(\w+)/.exec(inner)?.[1];
      if (word === 'end' || word === 'else') {
        if (!inIf) throw new TemplateError(`unexpected {{${word}}}`, at + 1);
        return { nodes, ended: { word, at, rest: inner.replace(/^\s*\w+/, '') } };
      }
      if (word === 'if') {
        nodes.push(this.ifNode(action));
        continue;
      }
      if (word && ['with', 'range', 'define', 'template', 'block', 'break', 'continue'].includes(word)) {
        throw new TemplateError(`{{${word}}} is not supported in a username template; use if, else and end`, at + 1);
      }
      if (/^\s*\/\*/.test(inner)) continue; // a comment
      nodes.push({ kind: 'action', pipe: new PipeParser(inner, at).pipeline(), at });
    }
  }

  private ifNode(first: Action): Node {
    const branches: { cond: Pipeline; body: Node[] }[] = [];
    let cond = new PipeParser(first.text.replace(/^\s*if/, ''), first.at + first.text.indexOf('if') + 2).pipeline();
    for (;;) {
      const { nodes, ended } = this.block(true);
      branches.push({ cond, body: nodes });
      if (ended!.word === 'end') {
        if (ended!.rest.trim()) throw new TemplateError('{{end}} takes nothing', ended!.at + 1);
        return { kind: 'if', branches, otherwise: [] };
      }
      const elseIf = /^\s*if\b/.exec(ended!.rest);
      if (elseIf) {
        cond = new PipeParser(ended!.rest.replace(/^\s*if/, ''), ended!.at).pipeline();
        continue;
      }
      if (ended!.rest.trim()) throw new TemplateError('{{else}} takes nothing but "if"', ended!.at + 1);
      const last = this.block(true);
      if (last.ended?.word !== 'end') throw new TemplateError('{{else}} after {{else}}', (last.ended?.at ?? 0) + 1);
      return { kind: 'if', branches, otherwise: last.nodes };
    }
  }
}

function pushText(nodes: Node[], text: string): void {
  if (text) nodes.push({ kind: 'text', text });
}

/** One action's pipeline: commands separated by "|", each a run of operands. */
class PipeParser {
  private i = 0;
  constructor(
    private readonly s: string,
    private readonly base: number,
  ) {}

  pipeline(stopAtParen = false): Pipeline {
    const at = this.base + this.i;
    const commands: Operand[][] = [];
    let command: Operand[] = [];
    for (;;) {
      this.skipSpace();
      const c = this.s[this.i];
      if (c === undefined || (stopAtParen && c === ')')) break;
      if (c === '|') {
        if (command.length === 0) throw this.error('missing command before "|"');
        commands.push(command);
        command = [];
        this.i++;
        continue;
      }
      command.push(this.operand());
    }
    if (command.length === 0) throw this.error(commands.length ? 'missing command after "|"' : 'empty action');
    commands.push(command);
    return { commands, at };
  }

  private operand(): Operand {
    const at = this.base + this.i;
    const c = this.s[this.i]!;
    if (c === '(') {
      this.i++;
      const pipe = this.pipeline(true);
      if (this.s[this.i] !== ')') throw this.error('unclosed "("');
      this.i++;
      return { kind: 'pipe', pipe, at };
    }
    if (c === ')') throw this.error('unexpected ")"');
    if (c === '"') {
      const m = /^"(?:[^"\\]|\\.)*"/.exec(this.s.slice(this.i));
      if (!m) throw this.error('unterminated string');
      this.i += m[0].length;
      return { kind: 'literal', value: JSON.parse(m[0]) as string, at };
    }
    if (c === '`') {
      const end = this.s.indexOf('`', this.i + 1);
      if (end < 0) throw this.error('unterminated raw string');
      const value = this.s.slice(this.i + 1, end);
      this.i = end + 1;
      return { kind: 'literal', value, at };
    }
    const m = /^(\.[A-Za-z_]\w*|-?\d+|[A-Za-z_]\w*)/.exec(this.s.slice(this.i));
    if (!m) throw this.error(`unexpected "${c}"`);
    this.i += m[0].length;
    const word = m[0];
    if (word.startsWith('.')) return { kind: 'field', name: word.slice(1), at };
    if (/^-?\d/.test(word)) return { kind: 'literal', value: Number(word), at };
    if (word === 'true' || word === 'false') return { kind: 'literal', value: word === 'true', at };
    if (!Object.hasOwn(FUNCTIONS, word)) throw new TemplateError(`function "${word}" not defined (Vault's template functions: ${Object.keys(FUNCTIONS).join(', ')})`, at + 1);
    return { kind: 'call', name: word, at };
  }

  private skipSpace(): void {
    while (this.s[this.i] === ' ' || this.s[this.i] === '\t' || this.s[this.i] === '\n') this.i++;
  }

  private error(message: string): TemplateError {
    return new TemplateError(message, this.base + this.i + 1);
  }
}

// ---- rendering -----------------------------------------------------------------

function renderNodes(nodes: Node[], data: TemplateData, deps: TemplateDeps): string {
  let out = '';
  for (const n of nodes) {
    if (n.kind === 'text') out += n.text;
    else if (n.kind === 'action') out += show(evalPipe(n.pipe, data, deps));
    else {
      const taken = n.branches.find((b) => truthy(evalPipe(b.cond, data, deps)));
      out += renderNodes(taken ? taken.body : n.otherwise, data, deps);
    }
  }
  return out;
}

function evalPipe(pipe: Pipeline, data: TemplateData, deps: TemplateDeps): TemplateValue {
  let value: TemplateValue | undefined;
  for (const command of pipe.commands) value = evalCommand(command, value, data, deps);
  return value!;
}

function evalCommand(command: Operand[], piped: TemplateValue | undefined, data: TemplateData, deps: TemplateDeps): TemplateValue {
  const [head, ...rest] = command;
  if (head!.kind !== 'call') {
    if (rest.length > 0 || piped !== undefined) throw new TemplateError(`can't give arguments to a value that is not a function`, head!.at + 1);
    return evalOperand(head!, data, deps);
  }
  const args = rest.map((o) => evalOperand(o, data, deps));
  if (piped !== undefined) args.push(piped);
  try {
    return FUNCTIONS[head!.name]!(args, deps, data);
  } catch (err) {
    throw new TemplateError(`${head!.name}: ${(err as Error).message}`, head!.at + 1);
  }
}

function evalOperand(o: Operand, data: TemplateData, deps: TemplateDeps): TemplateValue {
  switch (o.kind) {
    case 'literal':
      return o.value;
    case 'field':
      if (!Object.hasOwn(data, o.name)) throw new TemplateError(`can't evaluate field ${o.name} (fields: ${Object.keys(data).map((k) => `.${k}`).join(', ')})`, o.at + 1);
      return data[o.name]!;
    case 'pipe':
      return evalPipe(o.pipe, data, deps);
    case 'call':
      return evalCommand([o], undefined, data, deps);
  }
}

function truthy(v: TemplateValue): boolean {
  return v !== '' && v !== 0 && v !== false;
}

function show(v: TemplateValue): string {
  return typeof v === 'string' ? v : String(v);
}

// ---- functions -----------------------------------------------------------------

type Fn = (args: TemplateValue[], deps: TemplateDeps, data: TemplateData) => TemplateValue;

function arity(args: TemplateValue[], n: number): void {
  if (args.length !== n) throw new Error(`wrong number of args: want ${n} got ${args.length}`);
}

function int(v: TemplateValue): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`expected an integer, got ${JSON.stringify(v)}`);
  return v;
}

function str(v: TemplateValue): string {
  if (typeof v !== 'string') throw new Error(`expected a string, got ${JSON.stringify(v)}`);
  return v;
}

/** Go's fmt.Sprintf for the verbs a template uses: %s, %d, %v, %q, %%. */
function sprintf(format: string, args: TemplateValue[]): string {
  let i = 0;
  const out = format.replace(/%([%sdvq])/g, (_, verb: string) => {
    if (verb === '%') return '%';
    if (i >= args.length) return `%!${verb}(MISSING)`;
    const a = args[i++]!;
    if (verb === 'q') return JSON.stringify(show(a));
    if (verb === 'd' && typeof a !== 'number') return `%!d(string=${show(a)})`;
    return show(a);
  });
  return i < args.length ? `${out}%!(EXTRA ${args.slice(i).map(show).join(', ')})` : out;
}

/** Go's reference-time layout ("2006-01-02T15:04:05Z07:00") for a UTC time. */
function goTime(layout: string, ms: number): string {
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const months = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
  const days = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
  const tokens: [string, () => string][] = [
    ['2006', () => String(d.getUTCFullYear())],
    ['January', () => months[d.getUTCMonth()]!],
    ['Jan', () => months[d.getUTCMonth()]!.slice(0, 3)],
    ['Monday', () => days[d.getUTCDay()]!],
    ['Mon', () => days[d.getUTCDay()]!.slice(0, 3)],
    ['MST', () => 'UTC'],
    ['Z07:00', () => 'Z'],
    ['Z0700', () => 'Z'],
    ['-07:00', () => '+00:00'],
    ['-0700', () => '+0000'],
    ['.000000000', () => `.${pad(d.getUTCMilliseconds(), 3)}000000`],
    ['.000000', () => `.${pad(d.getUTCMilliseconds(), 3)}000`],
    ['.000', () => `.${pad(d.getUTCMilliseconds(), 3)}`],
    ['01', () => pad(d.getUTCMonth() + 1)],
    ['02', () => pad(d.getUTCDate())],
    ['06', () => pad(d.getUTCFullYear() % 100)],
    ['15', () => pad(d.getUTCHours())],
    ['03', () => pad(d.getUTCHours() % 12 || 12)],
    ['04', () => pad(d.getUTCMinutes())],
    ['05', () => pad(d.getUTCSeconds())],
    ['PM', () => (d.getUTCHours() < 12 ? 'AM' : 'PM')],
    ['pm', () => (d.getUTCHours() < 12 ? 'am' : 'pm')],
    ['1', () => String(d.getUTCMonth() + 1)],
    ['2', () => String(d.getUTCDate())],
    ['3', () => String(d.getUTCHours() % 12 || 12)],
    ['4', () => String(d.getUTCMinutes())],
    ['5', () => String(d.getUTCSeconds())],
  ];
  let out = '';
  for (let i = 0; i < layout.length; ) {
    const hit = tokens.find(([t]) => layout.startsWith(t, i));
    if (hit) {
      out += hit[1]();
      i += hit[0].length;
    } else out += layout[i++];
  }
  return out;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Vault's template functions (sdk/helper/template/funcs.go), and Go's comparison builtins. */
const FUNCTIONS: Record<string, Fn> = {
  printf: (args) => {
    if (args.length === 0) throw new Error('wrong number of args: want at least 1 got 0');
    return sprintf(str(args[0]!), args.slice(1));
  },
  truncate: (args) => {
    arity(args, 2);
    const [max, s] = [int(args[0]!), str(args[1]!)];
    if (max < 0) throw new Error(`max length must be >= 0 but was ${max}`);
    return s.length <= max ? s : s.slice(0, max);
  },
  truncate_sha256: (args) => {
    arity(args, 2);
    const [max, s] = [int(args[0]!), str(args[1]!)];
    if (max <= 8) throw new Error(`max length must be > 8 but was ${max}`);
    if (s.length <= max) return s;
    return s.slice(0, max - 8) + sha256(s.slice(max - 8)).slice(0, 8);
  },
  random: (args, deps) => {
    arity(args, 1);
    const n = int(args[0]!);
    if (n < 1) throw new Error(`length must be >= 1 but was ${n}`);
    return (deps.random ?? randomBase62)(n);
  },
  unix_time: (args, deps) => {
    arity(args, 0);
    return String(Math.floor(deps.now() / 1000));
  },
  unix_time_millis: (args, deps) => {
    arity(args, 0);
    return String(deps.now());
  },
  timestamp: (args, deps) => {
    arity(args, 1);
    return goTime(str(args[0]!), deps.now());
  },
  uuid: (args, deps) => {
    arity(args, 0);
    return (deps.uuid ?? randomUUID)();
  },
  lowercase: (args) => {
    arity(args, 1);
    return str(args[0]!).toLowerCase();
  },
  uppercase: (args) => {
    arity(args, 1);
    return str(args[0]!).toUpperCase();
  },
  replace: (args) => {
    arity(args, 3);
    return str(args[2]!).split(str(args[0]!)).join(str(args[1]!));
  },
  sha256: (args) => {
    arity(args, 1);
    return sha256(str(args[0]!));
  },
  base64: (args) => {
    arity(args, 1);
    return Buffer.from(str(args[0]!)).toString('base64');
  },
  eq: (args) => {
    if (args.length < 2) throw new Error('missing argument for comparison');
    return args.slice(1).some((a) => a === args[0]);
  },
  ne: (args) => {
    arity(args, 2);
    return args[0] !== args[1];
  },
  not: (args) => {
    arity(args, 1);
    return !truthy(args[0]!);
  },
  and: (args) => {
    if (args.length === 0) throw new Error('wrong number of args: want at least 1 got 0');
    return args.find((a) => !truthy(a)) ?? args.at(-1)!;
  },
  or: (args) => {
    if (args.length === 0) throw new Error('wrong number of args: want at least 1 got 0');
    return args.find((a) => truthy(a)) ?? args.at(-1)!;
  },
  len: (args) => {
    arity(args, 1);
    return str(args[0]!).length;
  },
  // credops's own, from before it spoke Vault's language: {{role}} and {{mount}} still work.
  role: (args, _deps, data) => {
    arity(args, 0);
    return data.RoleName ?? '';
  },
  mount: (args, _deps, data) => {
    arity(args, 0);
    return data.MountName ?? '';
  },
};
