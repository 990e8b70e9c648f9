import { validators, type SchemaKind } from './ajv.js';
import { explainAjvErrors } from './ajv-errors.js';
import type { Finding } from './finding.js';

/**
 * Validates one parsed document against its schema. The value is modified in
 * place: the schema's defaults are filled in.
 */
export function validateAgainstSchema(kind: SchemaKind, value: unknown): Finding[] {
  const validate = validators()[kind];
  return validate(value) ? [] : explainAjvErrors(validate.errors, value);
}
