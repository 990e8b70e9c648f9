/**
 * A DynamoDB-compatible server for the tests: dynalite (an independent
 * implementation of DynamoDB's API, in memory), on 127.0.0.1 and a free port,
 * reached over HTTP through the real SDK client. No client method is mocked.
 */
import dynalite from 'dynalite';
import type { AddressInfo } from 'node:net';
import { initTable } from '../../src/state/dynamodb-init.js';
import { parseDynamoUrl } from '../../src/state/dynamodb-location.js';

export interface LocalDynamo {
  endpoint: string;
  /** The environment a credops process needs to reach it (region, endpoint, dummy credentials). */
  env: Record<string, string>;
  /** A state URL of a new, empty state: a fresh key in a table with credops's schema (made by `credops state init`'s code). */
  newState(key?: string): Promise<string>;
  /** A new table, made by `credops state init`'s code; returns its name. */
  newTable(): Promise<string>;
  close(): Promise<void>;
}

let tables = 0;

export async function startLocalDynamo(): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const env = {
    AWS_ENDPOINT_URL_DYNAMODB: endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDLOCALDYNAMO',
    AWS_SECRET_ACCESS_KEY: 'local-dynamo-secret',
  };
  // The state's client in this process uses the SDK's default chain: give it dummy credentials
  // (dynalite checks none) unless the test set its own, and put them back on close.
  const saved = { AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY };
  process.env.AWS_ACCESS_KEY_ID ??= env.AWS_ACCESS_KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY ??= env.AWS_SECRET_ACCESS_KEY;
  const urlOf = (name: string, key: string) => `dynamodb://${name}/${key}?region=us-east-1&endpoint=${encodeURIComponent(endpoint)}`;
  const newTable = async () => {
    const name = `credops-test-${process.pid}-${++tables}`;
    const report = await initTable(parseDynamoUrl(urlOf(name, 'x')), { waitSeconds: 10 });
    if (report.problems.length) throw new Error(report.problems.join('; '));
    return name;
  };
  let table: string | undefined;
  let states = 0;
  return {
    endpoint,
    env,
    newTable,
    newState: async (key) => {
      table ??= await newTable();
      return urlOf(table, key ?? `state-${++states}`);
    },
    close: async () => {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
