import { parseJsonSource } from './json-source.js';
import type { SourceFile } from './source-file.js';
import { parseYamlSource } from './yaml-source.js';

/** Parses a repo file by its extension: .json as JSON, .yaml/.yml as YAML. */
export function parseSource(path: string, text: string): SourceFile {
  return /\.ya?ml$/i.test(path) ? parseYamlSource(path, text) : parseJsonSource(path, text);
}
