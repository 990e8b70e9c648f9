import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ErrorObject, ValidateFunction } from 'ajv';
import * as generated from './validators.generated.js';

/** The schemas shipped in schemas/ (the single source of truth for every file format). */
export const SCHEMA_IDS = {
  role: 'https://credops.dev/schemas/role.schema.json',
  policy: 'https://credops.dev/schemas/policy.schema.json',
  sink: 'https://credops.dev/schemas/sink.schema.json',
  config: 'https://credops.dev/schemas/config.schema.json',
  static_role: 'https://credops.dev/schemas/static-role.schema.json',
  jwt_auth_config: 'https://credops.dev/schemas/jwt-auth-config.schema.json',
  jwt_auth_role: 'https://credops.dev/schemas/jwt-auth-role.schema.json',
  acl_policy: 'https://credops.dev/schemas/acl-policy.schema.json',
  kubernetes_auth_config: 'https://credops.dev/schemas/kubernetes-auth-config.schema.json',
  kubernetes_auth_role: 'https://credops.dev/schemas/kubernetes-auth-role.schema.json',
} as const;
export type SchemaKind = keyof typeof SCHEMA_IDS;

export const SCHEMAS_DIR = fileURLToPath(new URL('../../schemas/', import.meta.url));

export type Validator = ValidateFunction & { errors?: ErrorObject[] | null };

/**
 * The validators, generated from schemas/ at build time by
 * scripts/gen-validators.mjs (ajv standalone code, with the options below), so
 * that no schema is compiled when credops runs: compiling is ajv's slow part.
 * A test fails when the generated file is stale.
 *
 * useDefaults fills in the schemas' "default" values, so defaults live in the
 * schema and nowhere else. verbose gives each error its parent schema, where
 * the formatter finds the "errorMessage" annotation (also understood by VS
 * Code). Keep anyOf/oneOf branches inline (no $ref): the formatter groups a
 * branch's errors by schema path.
 */
export function validators(): Record<SchemaKind, Validator> {
  return generated as unknown as Record<SchemaKind, Validator>;
}

/** The raw JSON of one schema (read once). */
const documents = new Map<SchemaKind, Record<string, unknown>>();
export function schemaDocument(kind: SchemaKind): Record<string, unknown> {
  let doc = documents.get(kind);
  if (!doc) {
    doc = JSON.parse(readFileSync(`${SCHEMAS_DIR}${SCHEMA_IDS[kind].slice(SCHEMA_IDS[kind].lastIndexOf('/') + 1)}`, 'utf8')) as Record<string, unknown>;
    documents.set(kind, doc);
  }
  return doc;
}

/** The sink type keys ("secretsmanager", "file"): the alternatives of the sink schema's oneOf. */
export function sinkTypes(): string[] {
  return ((schemaDocument('sink').oneOf as { required: string[] }[] | undefined) ?? []).map((s) => s.required[0]!);
}
