import type { Diagnostic } from '../errors.js';
import type { RepoFile } from '../repo/index.js';
import { LineIndex, pointerTokens, type LineColumn, type SourceFile } from '../schema/source-file.js';

/**
 * ACL policies written in HCL (acl/NAME.hcl), parsed with HashiCorp's own HCL
 * parser (@cdktf/hcl2json runs it as WebAssembly, hence async and loaded only
 * when a repo has an .hcl file). The rest of the load is synchronous: the
 * files are parsed first (parseHclFiles) and handed to it.
 */

/** Parsed HCL files by repo path. */
export type ParsedHcl = ReadonlyMap<string, SourceFile>;

export async function parseHclFiles(files: readonly RepoFile[]): Promise<ParsedHcl> {
  const hcl = files.filter((f) => f.path.endsWith('.hcl') && !f.problem);
  const out = new Map<string, SourceFile>();
  if (hcl.length === 0) return out;
  const { parse } = await import('@cdktf/hcl2json');
  for (const file of hcl) {
    try {
      const value = (await parse(file.path, file.text)) as unknown;
      out.set(file.path, hclSource(file, value, []));
    } catch (err) {
      out.set(file.path, hclSource(file, undefined, [syntaxError(file, err)]));
    }
  }
  return out;
}

/**
 * "parse config: [acl/dev.hcl:3,1-1: Missing expression; Expected the start
 * of an expression, but found the end of the file.]": HCL's own message,
 * with its position turned into ours.
 */
function syntaxError(file: RepoFile, err: unknown): Diagnostic {
  const text = err instanceof Error ? err.message : String(err);
  const m = /:(\d+),(\d+)(?:-\d+)?: ([\s\S]*?)\]?$/.exec(text);
  return {
    file: file.path,
    line: m ? Number(m[1]) : 1,
    column: m ? Number(m[2]) : 1,
    pointer: '',
    severity: 'error',
    message: `HCL syntax: ${m ? m[3]!.trim() : text}`,
  };
}

/**
 * HCL's JSON form loses positions; a pointer into a policy (/path/PATTERN,
 * then /capabilities/N) is found again in the text: the block's quoted label,
 * then the word within that block.
 */
function hclSource(file: RepoFile, value: unknown, diagnostics: Diagnostic[]): SourceFile {
  const lines = new LineIndex(file.text);
  return {
    path: file.path,
    value,
    diagnostics,
    position(pointer: string): LineColumn {
      const tokens = pointerTokens(pointer);
      let offset = 0;
      if (tokens[0] === 'path' && tokens[1] !== undefined) {
        const label = file.text.indexOf(JSON.stringify(tokens[1]));
        if (label === -1) return lines.at(Math.max(0, file.text.search(/\bpath\b/)));
        offset = label;
        // HCL gives a block as a list (/path/P/0/capabilities/1), JSON as an object (/path/P/capabilities/1).
        const rest = tokens.slice(2);
        const caps = rest.indexOf('capabilities');
        if (caps !== -1) {
          const at = file.text.indexOf('capabilities', label);
          if (at !== -1) offset = at;
          const open = at === -1 ? -1 : file.text.indexOf('[', at);
          const item = rest[caps + 1] === undefined ? undefined : [...file.text.slice(open).matchAll(/"[^"]*"/g)][Number(rest[caps + 1])];
          if (open !== -1 && item) offset = open + item.index;
        }
      }
      return lines.at(offset);
    },
  };
}
