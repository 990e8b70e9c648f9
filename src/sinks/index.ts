import { UserError } from '../errors.js';
import type { SinkSpec } from '../model/types.js';
import { fileSink } from './file.js';
import { secretsManagerSink } from './secretsmanager.js';
import type { Sink, SinkContext, SinkFactory } from './sink.js';

export type { PublishedCredential, Sink, SinkContext, SinkFactory, SinkRefresh } from './sink.js';

/** Every sink type, by the key that names it in a sink file. Adding a sink: one file, one line here. */
export const sinkTypes: Record<string, SinkFactory> = {
  secretsmanager: secretsManagerSink,
  file: fileSink,
};

export function createSink(spec: SinkSpec, ctx: SinkContext): Sink {
  const factory = Object.hasOwn(sinkTypes, spec.type) ? sinkTypes[spec.type] : undefined;
  if (!factory) throw new UserError(`sink "${spec.name}" (${spec.source}): unknown sink type "${spec.type}"; known: ${Object.keys(sinkTypes).join(', ')}`);
  return factory(spec, ctx);
}

/** The sink's target (describe()), or undefined when the spec cannot build a sink here (e.g. a ~ path without a home). */
export function describeSink(spec: SinkSpec, ctx: SinkContext): string | undefined {
  try {
    return createSink(spec, ctx).describe();
  } catch {
    return undefined;
  }
}
