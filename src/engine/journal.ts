import { errorMessage } from '../errors.js';
import { randomUUID } from 'node:crypto';
import type { AwsClients } from '../aws/clients.js';
import type { Clock } from '../clock.js';
import type { JournalEntry, MountConfig } from '../model/types.js';
import type { StateStore } from '../state/store.js';
import type { IssueJournal } from './credential-type.js';
import { credentialKind } from './registry.js';

/**
 * The write-ahead journal (Vault's rollback.go / WAL; DESIGN invariant 1).
 * Before an AWS write that creates something, an entry says what is about to
 * exist (for iam_user: the chosen user name); when the credential is complete,
 * the entry becomes its lease in one atomic state write (completeJournal), and
 * only then is the secret handed out. An entry still present at the next run
 * therefore means a credential nobody received: recovery deletes it.
 *
 * Recovery must only run while holding the state's writer lock: an entry of a
 * live issuance in another process looks exactly like one left by a crash.
 */

/**
 * IAM is eventually consistent: a user created seconds ago can answer
 * NoSuchEntity to a read or delete and show up moments later. If recovery then
 * forgot the entry, that user would become an orphan nobody knows. So an entry
 * younger than this whose user AWS says does not exist is kept for a later run;
 * only an older one is forgotten. Vault's pathUserRollback waits the same five
 * minutes for the same reason.
 */
export const ROLLBACK_MIN_AGE_MS = 5 * 60 * 1000;

/**
 * How long credops server's issuance (which holds no lock) may take from its
 * journal entry to its lease. Recovery leaves a younger entry alone; an
 * issuance still running after it gives up and rolls back (Engine.issue).
 */
export const LIVE_ISSUANCE_MS = 2 * 60 * 1000;

export function issueJournal(state: StateStore, clock: Clock, of: Pick<JournalEntry, 'leaseId' | 'mount' | 'role' | 'kind' | 'liveUntil'>): IssueJournal {
  return {
    async begin(data) {
      const id = randomUUID();
      await state.putJournal({ id, ...of, data, createdAt: clock.now() });
      return id;
    },
    discard: (id) => state.deleteJournal(id),
  };
}

export interface RecoverResult {
  /** Entries whose half-created credential was deleted (or found never created and old enough to forget). */
  rolledBack: number;
  /** Entries whose lease was already stored: only the entry was left to remove. */
  completed: number;
  /** Entries kept for a later run (AWS does not show the user yet; see ROLLBACK_MIN_AGE_MS). */
  pending: number;
  /** Entries whose rollback failed (AWS unreachable, refused...): kept, retried by the next run. */
  failed: { id: string; leaseId: string; error: string }[];
  /** Root access keys an interrupted rotate-root left, deleted (root.ts recoverRootRotations). */
  rootKeysDeleted: string[];
}

export interface RecoverDeps {
  state: StateStore;
  clients: AwsClients;
  clock: Clock;
  mount(name: string): MountConfig;
  /** Called for each entry rolled back, for the audit log. */
  onRolledBack?(entry: JournalEntry, result: 'deleted' | 'absent'): Promise<void> | void;
}

export async function recoverJournal(deps: RecoverDeps): Promise<RecoverResult> {
  const result: RecoverResult = { rolledBack: 0, completed: 0, pending: 0, failed: [], rootKeysDeleted: [] };
  for (const entry of await deps.state.listJournal()) {
    if (isLive(entry, deps.clock.now())) continue;
    if (await deps.state.getLease(entry.leaseId)) {
      await deps.state.deleteJournal(entry.id);
      result.completed++;
      continue;
    }
    const kind = credentialKind(entry.kind);
    if (!kind?.rollback) {
      result.failed.push({ id: entry.id, leaseId: entry.leaseId, error: `unknown journal entry kind "${entry.kind}"` });
      continue;
    }
    try {
      const outcome = await kind.rollback({ entry, mount: deps.mount(entry.mount), clients: deps.clients, clock: deps.clock });
      if (outcome === 'absent' && deps.clock.now() - entry.createdAt < ROLLBACK_MIN_AGE_MS) {
        result.pending++;
        continue;
      }
      await deps.state.deleteJournal(entry.id);
      result.rolledBack++;
      await deps.onRolledBack?.(entry, outcome);
    } catch (err) {
      result.failed.push({ id: entry.id, leaseId: entry.leaseId, error: errorMessage(err) });
    }
  }
  return result;
}

/** An entry of an issuance by credops server that may still be running: not recovery's to touch. */
export function isLive(entry: JournalEntry, now: number): boolean {
  return entry.liveUntil !== undefined && entry.liveUntil > now;
}
