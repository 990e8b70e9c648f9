import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

describe('src/schema/validators.generated.ts', () => {
  it('is what scripts/gen-validators.mjs generates from schemas/ (run `npm run gen:validators` after a schema change)', async () => {
    // @ts-expect-error -- a plain .mjs script without type declarations
    const { generate } = (await import('../../scripts/gen-validators.mjs')) as { generate: () => string };
    const current = readFileSync(new URL('../../src/schema/validators.generated.ts', import.meta.url), 'utf8');
    expect(current).toBe(generate());
  });
});
