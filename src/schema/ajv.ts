import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

/** The schemas shipped in schemas/ (the single source of truth for every file format). */
export const SCHEMA_IDS = {
  role: 'https://credops.dev/schemas/role.schema.json',
  policy: 'https://credops.dev/schemas/policy.schema.json',
  sink: 'https://credops.dev/schemas/sink.schema.json',
  config: 'https://credops.dev/schemas/config.schema.json',
} as const;
export type SchemaKind = keyof typeof SCHEMA_IDS;

export const SCHEMAS_DIR = fileURLToPath(new URL('../../schemas/', import.meta.url));

export type Validator = ValidateFunction & { errors?: ErrorObject[] | null };

let compiled: Record<SchemaKind, Validator> | undefined;

/**
 * The compiled validators, built once per process: compiling is the slow part
 * of ajv, validating a file is microseconds.
 *
 * useDefaults fills in the schemas' "default" values, so defaults live in the
 * schema and nowhere else. verbose gives each error its parent schema, where
 * the formatter finds the "errorMessage" annotation (also understood by VS
 * Code). Keep anyOf/oneOf branches inline (no $ref): the formatter groups a
 * branch's errors by schema path.
 */
export function validators(): Record<SchemaKind, Validator> {
  if (compiled) return compiled;
  const ajv = new Ajv2020.default({
    allErrors: true,
    verbose: true,
    useDefaults: true,
    strict: true,
    strictRequired: false,
    strictTypes: false,
    allowUnionTypes: true,
  });
  addFormats.default(ajv);
  ajv.addKeyword({ keyword: 'errorMessage', schemaType: ['string', 'object'] });
  // json-schema-to-typescript's override of a generated type (scripts/gen-types.mjs).
  ajv.addKeyword({ keyword: 'tsType', schemaType: 'string' });
  for (const name of readdirSync(SCHEMAS_DIR).filter((f) => f.endsWith('.schema.json')).sort()) {
    ajv.addSchema(JSON.parse(readFileSync(SCHEMAS_DIR + name, 'utf8')) as object);
  }
  const get = (kind: SchemaKind): Validator => {
    const v = ajv.getSchema(SCHEMA_IDS[kind]);
    if (!v) throw new Error(`schema ${SCHEMA_IDS[kind]} is missing from ${SCHEMAS_DIR}`);
    return v;
  };
  compiled = { role: get('role'), policy: get('policy'), sink: get('sink'), config: get('config') };
  return compiled;
}

/** The raw JSON of one schema (read once). */
const documents = new Map<SchemaKind, Record<string, unknown>>();
export function schemaDocument(kind: SchemaKind): Record<string, unknown> {
  let doc = documents.get(kind);
  if (!doc) {
    doc = JSON.parse(readFileSync(`${SCHEMAS_DIR}${kind}.schema.json`, 'utf8')) as Record<string, unknown>;
    documents.set(kind, doc);
  }
  return doc;
}

/** The sink type keys ("secretsmanager", "file"): the alternatives of the sink schema's oneOf. */
export function sinkTypes(): string[] {
  return ((schemaDocument('sink').oneOf as { required: string[] }[] | undefined) ?? []).map((s) => s.required[0]!);
}
