import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import type { Diagnostic } from '../errors.js';
import { pointerTokens, type LineColumn, type SourceFile } from './source-file.js';

// An alias-expansion bound (the "billion laughs" of YAML): no sink or config needs more.
const MAX_ALIAS_COUNT = 100;

/** Parses YAML 1.2 (core schema) keeping each node's position; duplicate keys are errors. */
export function parseYamlSource(path: string, text: string): SourceFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true });
  const at = (offset: number): LineColumn => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, column: p.col };
  };
  const diagnostics: Diagnostic[] = doc.errors.map((e) => ({
    file: path,
    ...at(e.pos[0]),
    pointer: '',
    severity: 'error',
    message: `invalid YAML: ${firstLine(e.message)}`,
  }));

  let value: unknown;
  if (diagnostics.length === 0) {
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (err) {
      diagnostics.push({ file: path, line: 1, column: 1, pointer: '', severity: 'error', message: `invalid YAML: ${firstLine((err as Error).message)}` });
    }
  }

  return {
    path,
    value: diagnostics.length > 0 ? undefined : value,
    diagnostics,
    position(pointer, want = 'value') {
      let node: unknown = doc.contents;
      let best = node && (node as Node).range ? (node as Node).range![0] : 0;
      const tokens = pointerTokens(pointer);
      for (let i = 0; i < tokens.length; i++) {
        const token = tokens[i]!;
        const last = i === tokens.length - 1;
        if (isMap(node)) {
          const pair = node.items.find((p) => isPair(p) && (isScalar(p.key) ? String(p.key.value) : String(p.key)) === token);
          if (!pair) break;
          const keyNode = pair.key as Node | null;
          if (keyNode?.range) best = keyNode.range[0];
          if (last && want === 'key') break;
          node = pair.value;
        } else if (isSeq(node)) {
          node = node.items[Number(token)];
        } else break;
        if (node && !isAlias(node) && (node as Node).range) best = (node as Node).range![0];
        else if (!node) break;
      }
      return at(best);
    },
  };
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

/** A YAML text as plain values; throws on the first syntax error (for callers that only need a value or nothing). */
export function parseYamlValue(text: string): unknown {
  const doc = parseDocument(text);
  if (doc.errors.length) throw doc.errors[0];
  return doc.toJS();
}
