/**
 * A DynamoDB-compatible server for the tests: dynalite (an independent
 * implementation of DynamoDB's API, in memory), on 127.0.0.1 and a free port,
 * reached over HTTP through the real SDK client. No client method is mocked.
 *
 * In front of it sits a small proxy that records every operation (by the
 * access key that signed it) and enforces what dynalite does not: an identity
 * made read-only (`readOnly(accessKeyId)`) gets DynamoDB's AccessDeniedException
 * for every write, as an IAM policy allowing only reads would give it.
 */
import dynalite from 'dynalite';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { initTable } from '../../src/state/dynamodb-init.js';
import { parseDynamoUrl } from '../../src/state/dynamodb-location.js';

export interface DynamoCall {
  operation: string;
  accessKeyId: string;
}

export interface LocalDynamo {
  endpoint: string;
  /** The environment a credops process needs to reach it (region, endpoint, dummy credentials). */
  env: Record<string, string>;
  /** Every operation so far, in order. */
  calls: DynamoCall[];
  /** From now on, writes signed with this access key are refused with AccessDeniedException. */
  readOnly(accessKeyId: string): void;
  /** A state URL of a new, empty state: a fresh key in a table with credops's schema (made by `credops state init`'s code). */
  newState(key?: string): Promise<string>;
  /** A new table, made by `credops state init`'s code; returns its name. */
  newTable(): Promise<string>;
  close(): Promise<void>;
}

const READ_OPERATIONS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan', 'DescribeTable', 'ListTables', 'DescribeContinuousBackups', 'DescribeTimeToLive']);

let tables = 0;

export async function startLocalDynamo(): Promise<LocalDynamo> {
  const backend = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await listen(backend);
  const backendPort = (backend.address() as AddressInfo).port;
  const calls: DynamoCall[] = [];
  const readOnlyKeys = new Set<string>();

  const proxy = createServer((req, res) => {
    const operation = String(req.headers['x-amz-target'] ?? '').split('.').pop() ?? '';
    const accessKeyId = /Credential=([^/]+)\//.exec(String(req.headers.authorization ?? ''))?.[1] ?? '';
    calls.push({ operation, accessKeyId });
    if (readOnlyKeys.has(accessKeyId) && !READ_OPERATIONS.has(operation)) {
      req.resume();
      const body = JSON.stringify({
        __type: 'com.amazon.coral.service#AccessDeniedException',
        message: `User: arn:aws:sts::000000000000:assumed-role/plan-only/${accessKeyId} is not authorized to perform: dynamodb:${operation} on resource: the state table because no identity-based policy allows the dynamodb:${operation} action`,
      });
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'denied' }).end(body);
      return;
    }
    const forward = request({ host: '127.0.0.1', port: backendPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 500, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', (err) => res.destroy(err));
    req.pipe(forward);
  });
  await listen(proxy);
  const endpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
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
    calls,
    readOnly: (accessKeyId) => void readOnlyKeys.add(accessKeyId),
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
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
      await new Promise<void>((resolve) => backend.close(() => resolve()));
    },
  };
}

function listen(server: Server): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
}
