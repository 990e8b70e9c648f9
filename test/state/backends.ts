/**
 * The state backends the contract suite and the invariant stories run on:
 * SQLite (a file in a temp dir) and DynamoDB (dynalite, a real server on
 * 127.0.0.1, through the real SDK client).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalDynamo, type LocalDynamo } from '../support/dynamodb.js';

export interface Backend {
  name: 'sqlite' | 'dynamodb';
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The URL of a new, empty state. */
  newUrl(): Promise<string>;
  /** What a child process needs in its environment to reach the state. */
  env(): Record<string, string>;
}

export function sqliteBackend(): Backend {
  let dir: string | undefined;
  let n = 0;
  return {
    name: 'sqlite',
    start: async () => {
      dir = mkdtempSync(join(tmpdir(), 'credops-state-'));
    },
    stop: async () => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
    newUrl: async () => `sqlite://${join(dir!, `state-${++n}.db`)}`,
    env: () => ({}),
  };
}

export function dynamoBackend(): Backend {
  let dynamo: LocalDynamo | undefined;
  return {
    name: 'dynamodb',
    start: async () => {
      dynamo = await startLocalDynamo();
    },
    stop: async () => {
      await dynamo?.close();
    },
    newUrl: () => dynamo!.newState(),
    env: () => dynamo!.env,
  };
}

export const BACKENDS = [sqliteBackend, dynamoBackend];
