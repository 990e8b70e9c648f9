import { errorMessage } from '../errors.js';

/**
 * Runs fn over items with at most `limit` in flight, in order of start. Each
 * item's outcome is its own: a failing item does not stop the others, nor the
 * worker that ran it. Once every item has run, the call rejects if any item
 * did: with that error when one failed, with an AggregateError of them all when
 * several did.
 */
export async function forEachBounded<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  const errors: unknown[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      try {
        await fn(items[index]!, index);
      } catch (err) {
        errors.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, `${errors.length} of ${items.length} items failed; first: ${errorMessage(errors[0])}`);
}
