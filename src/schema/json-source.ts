import type { Diagnostic } from '../errors.js';
import { LineIndex, parentPointer, pointerToken, type LineColumn, type SourceFile } from './source-file.js';

// Deeper nesting than any role or policy needs; the limit keeps a hostile file
// from exhausting the stack of this recursive parser.
const MAX_DEPTH = 256;

class JsonSyntaxError extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Parses JSON (RFC 8259) keeping the offset of every value and key, so errors
 * found later can name a line and column. Duplicate keys are an error: Vault
 * silently keeps the last one, which hides mistakes in a reviewed repo.
 * `toPosition` maps an offset in `text` to a file position: for JSON held in a
 * string of another file (policy_document), positions point into that file.
 */
export function parseJsonSource(path: string, text: string, toPosition?: (offset: number) => LineColumn): SourceFile {
  const fast = parseFast(text);
  if (fast === undefined) return parseWithPositions(path, text, toPosition);
  // Valid, without duplicate keys: positions are only needed if a later check
  // reports a problem, so the position-keeping parse runs then, once (issue #11:
  // a large repo is mostly files without any problem).
  let full: SourceFile | undefined;
  const withPositions = () => (full ??= parseWithPositions(path, text, toPosition));
  return {
    path,
    value: fast.value,
    diagnostics: [],
    position: (pointer, at) => withPositions().position(pointer, at),
    textPosition: (pointer) => (offset) => {
      const inner = withPositions().textPosition?.(pointer);
      return inner ? inner(offset) : withPositions().position(pointer);
    },
  };
}

/**
 * The engine's JSON.parse, when the text is valid JSON without a duplicate
 * key: JSON.parse keeps the last of duplicate keys silently, so the keys of the
 * text are counted (every string token followed by a colon is one; outside
 * strings JSON has no quotes) and compared with the properties parsed. Anything
 * else (invalid JSON, a duplicate) goes to the position-keeping parser, which
 * says where.
 */
function parseFast(text: string): { value: unknown } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return keysInText(text) === countProperties(value) ? { value } : undefined;
}

/**
 * The object keys of a text JSON.parse accepted: string tokens followed by a
 * colon. A scan by character code, without a regular expression's match
 * objects (the cost that counted on 10,000 files).
 */
function keysInText(text: string): number {
  let keys = 0;
  const end = text.length;
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) !== QUOTE) continue;
    for (i++; i < end; i++) {
      const c = text.charCodeAt(i);
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) break;
    }
    let j = i + 1;
    while (j < end && isJsonSpace(text.charCodeAt(j))) j++;
    if (text.charCodeAt(j) === COLON) keys++;
    i = j - 1;
  }
  return keys;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const isJsonSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** Properties at every depth; NaN past MAX_DEPTH (the position-keeping parser then reports the nesting). */
function countProperties(value: unknown, depth = 0): number {
  if (value === null || typeof value !== 'object') return 0;
  if (depth > MAX_DEPTH) return Number.NaN;
  let n = 0;
  if (Array.isArray(value)) {
    for (const item of value) n += countProperties(item, depth + 1);
    return n;
  }
  for (const key in value as Record<string, unknown>) n += 1 + countProperties((value as Record<string, unknown>)[key], depth + 1);
  return n;
}

function parseWithPositions(path: string, text: string, toPosition?: (offset: number) => LineColumn): SourceFile {
  const values = new Map<string, number>();
  const keys = new Map<string, number>();
  const diagnostics: Diagnostic[] = [];
  let lines: LineIndex | undefined;
  const position = toPosition ?? ((offset: number) => (lines ??= new LineIndex(text)).at(offset));

  const parser = new Parser(text, values, keys, (pointer, key, offset) => {
    const first = keys.get(pointer);
    const where = first === undefined ? '' : ` (first at line ${position(first).line})`;
    diagnostics.push({ file: path, ...position(offset), pointer, severity: 'error', message: `duplicate key${where}` });
  });
  let value: unknown;
  try {
    value = parser.parseDocument();
  } catch (err) {
    if (!(err instanceof JsonSyntaxError)) throw err;
    diagnostics.push({ file: path, ...position(err.offset), pointer: '', severity: 'error', message: `invalid JSON: ${err.message}` });
  }

  return {
    path,
    value: diagnostics.length > 0 ? undefined : value,
    diagnostics,
    position(pointer, at = 'value') {
      let p = pointer;
      for (;;) {
        const offset = (at === 'key' && p === pointer ? keys.get(p) : undefined) ?? values.get(p);
        if (offset !== undefined) return position(offset);
        if (p === '') return position(0);
        p = parentPointer(p);
      }
    },
    textPosition(pointer) {
      const start = values.get(pointer);
      if (start === undefined || text[start] !== '"') return undefined;
      // Decoded index -> raw offset: escapes are longer in the file than in the string.
      const raw: number[] = [];
      let j = start + 1;
      while (j < text.length && text[j] !== '"') {
        raw.push(j);
        j += text[j] === '\\' ? (text[j + 1] === 'u' ? 6 : 2) : 1;
      }
      raw.push(j);
      return (offset) => position(raw[Math.min(Math.max(offset, 0), raw.length - 1)]!);
    },
  };
}

/** A run of string characters that need no decoding. */
// eslint-disable-next-line no-control-regex -- JSON forbids raw control characters in strings: they end the fast path.
const PLAIN_RUN = /[^"\\\u0000-\u001f]*/y;

class Parser {
  private i = 0;
  constructor(
    private readonly s: string,
    private readonly values: Map<string, number>,
    private readonly keys: Map<string, number>,
    private readonly onDuplicate: (pointer: string, key: string, offset: number) => void,
  ) {}

  parseDocument(): unknown {
    if (this.s.charCodeAt(0) === 0xfeff) this.i = 1;
    this.ws();
    if (this.i >= this.s.length) throw new JsonSyntaxError(this.i, 'the file is empty; expected a JSON object');
    const v = this.value('', 0);
    this.ws();
    if (this.i < this.s.length) throw new JsonSyntaxError(this.i, `unexpected ${this.describe()} after the end of the JSON value`);
    return v;
  }

  private ws(): void {
    const s = this.s;
    let i = this.i;
    for (let c = s.charCodeAt(i); c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; c = s.charCodeAt(++i));
    this.i = i;
    if (s.charCodeAt(i) === 0x2f && (s[i + 1] === '/' || s[i + 1] === '*')) {
      throw new JsonSyntaxError(i, 'comments are not allowed in JSON');
    }
  }

  private describe(): string {
    if (this.i >= this.s.length) return 'end of file';
    const cp = this.s.codePointAt(this.i)!;
    const ch = String.fromCodePoint(cp);
    return cp < 0x20 || cp === 0xfffd ? `character U+${cp.toString(16).toUpperCase().padStart(4, '0')}` : `"${ch}"`;
  }

  private value(pointer: string, depth: number): unknown {
    this.values.set(pointer, this.i);
    const c = this.s[this.i];
    switch (c) {
      case '{':
        return this.object(pointer, depth + 1);
      case '[':
        return this.array(pointer, depth + 1);
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      default:
        if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
        if (c === "'") throw new JsonSyntaxError(this.i, 'strings must use double quotes (")');
        throw new JsonSyntaxError(this.i, `expected a value, found ${this.describe()}`);
    }
  }

  private object(pointer: string, depth: number): Record<string, unknown> {
    if (depth > MAX_DEPTH) throw new JsonSyntaxError(this.i, `nesting deeper than ${MAX_DEPTH} levels`);
    const out: Record<string, unknown> = {};
    this.i++;
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return out;
    }
    for (;;) {
      if (this.s[this.i] !== '"') {
        throw new JsonSyntaxError(this.i, this.s[this.i] === '}' ? 'trailing comma is not allowed in JSON' : `expected a "quoted" key, found ${this.describe()}`);
      }
      const keyAt = this.i;
      const key = this.string();
      const child = pointer + '/' + pointerToken(key);
      if (Object.hasOwn(out, key)) this.onDuplicate(child, key, keyAt);
      else this.keys.set(child, keyAt);
      this.ws();
      if (this.s[this.i] !== ':') throw new JsonSyntaxError(this.i, `expected ":" after key "${key}", found ${this.describe()}`);
      this.i++;
      this.ws();
      const v = this.value(child, depth);
      // "__proto__" must become an own property, not the object's prototype.
      if (key === '__proto__') Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      else out[key] = v;
      this.ws();
      const c = this.s[this.i];
      if (c === ',') {
        this.i++;
        this.ws();
        continue;
      }
      if (c === '}') {
        this.i++;
        return out;
      }
      throw new JsonSyntaxError(this.i, `expected "," or "}" after the value of "${key}", found ${this.describe()}`);
    }
  }

  private array(pointer: string, depth: number): unknown[] {
    if (depth > MAX_DEPTH) throw new JsonSyntaxError(this.i, `nesting deeper than ${MAX_DEPTH} levels`);
    const out: unknown[] = [];
    this.i++;
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return out;
    }
    for (;;) {
      if (this.s[this.i] === ']') throw new JsonSyntaxError(this.i, 'trailing comma is not allowed in JSON');
      out.push(this.value(pointer + '/' + out.length, depth));
      this.ws();
      const c = this.s[this.i];
      if (c === ',') {
        this.i++;
        this.ws();
        continue;
      }
      if (c === ']') {
        this.i++;
        return out;
      }
      throw new JsonSyntaxError(this.i, `expected "," or "]" after an array item, found ${this.describe()}`);
    }
  }

  private string(): string {
    const s = this.s;
    const start = this.i;
    PLAIN_RUN.lastIndex = start + 1;
    PLAIN_RUN.test(s);
    let j = PLAIN_RUN.lastIndex;
    if (s.charCodeAt(j) === 0x22) {
      this.i = j + 1;
      return s.slice(start + 1, j);
    }
    for (;;) {
      if (j >= s.length) throw new JsonSyntaxError(start, 'unterminated string');
      const c = s.charCodeAt(j);
      if (c === 0x22) break;
      if (c < 0x20) throw new JsonSyntaxError(j, c === 0x0a ? 'unterminated string (line break inside a string; use \\n)' : 'control character inside a string');
      if (c === 0x5c) {
        const e = s[j + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(s.slice(j + 2, j + 6))) throw new JsonSyntaxError(j, 'invalid \\u escape: expected 4 hex digits');
          j += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) throw new JsonSyntaxError(j, `invalid escape "\\${e ?? ''}"`);
        j += 2;
        continue;
      }
      j++;
    }
    this.i = j + 1;
    return JSON.parse(s.slice(start, j + 1)) as string;
  }

  private number(): number {
    const m = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    m.lastIndex = this.i;
    const match = m.exec(this.s);
    if (!match || match[0] === '-') throw new JsonSyntaxError(this.i, `invalid number`);
    const next = this.s[this.i + match[0].length];
    if (next !== undefined && /[0-9A-Za-z.]/.test(next)) throw new JsonSyntaxError(this.i, `invalid number "${this.s.slice(this.i, this.i + match[0].length + 1)}"`);
    this.i += match[0].length;
    return Number(match[0]);
  }

  private literal<T>(word: string, v: T): T {
    if (this.s.startsWith(word, this.i)) {
      this.i += word.length;
      return v;
    }
    throw new JsonSyntaxError(this.i, `expected a value, found ${this.describe()}`);
  }
}
