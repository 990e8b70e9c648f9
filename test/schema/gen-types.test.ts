import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

describe('src/model/schema-types.ts', () => {
  it('is what scripts/gen-types.mjs generates from schemas/ (run `npm run gen:types` after a schema change)', async () => {
    // @ts-expect-error -- a plain .mjs script without type declarations
    const { generate } = (await import('../../scripts/gen-types.mjs')) as { generate: () => Promise<string> };
    const current = readFileSync(new URL('../../src/model/schema-types.ts', import.meta.url), 'utf8');
    expect(current).toBe(await generate());
  });
});
