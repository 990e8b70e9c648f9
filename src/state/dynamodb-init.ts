import {
  CreateTableCommand,
  DescribeContinuousBackupsCommand,
  DescribeTableCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateContinuousBackupsCommand,
  UpdateTableCommand,
  waitUntilTableExists,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { errorMessage } from '../errors.js';
import { dynamoClient } from './dynamodb.js';
import { DYNAMODB_ATTRIBUTES, DYNAMODB_INDEX_KEY_SCHEMA, DYNAMODB_KEY_SCHEMA, DYNAMODB_LEASE_INDEX, type DynamoLocation } from './dynamodb-location.js';

/** What `credops state init` did or found, line by line. */
export interface InitReport {
  created: boolean;
  /** Ways the existing table differs from what credops needs: it cannot be used until they are fixed. */
  problems: string[];
  /** Recommended settings that are off (or that this endpoint does not support): it works, but says so. */
  warnings: string[];
  notes: string[];
}

/**
 * Creates the state table: on-demand billing, the lease expiry index,
 * deletion protection and point-in-time recovery. A table that exists is
 * checked instead, and every difference from the expected schema is named.
 */
export async function initTable(where: DynamoLocation, opts: { waitSeconds?: number } = {}): Promise<InitReport> {
  const client = dynamoClient(where);
  const report: InitReport = { created: false, problems: [], warnings: [], notes: [] };
  try {
    let table = await describe(client, where.table);
    if (!table) {
      try {
        await client.send(
          new CreateTableCommand({
            TableName: where.table,
            BillingMode: 'PAY_PER_REQUEST',
            AttributeDefinitions: [...DYNAMODB_ATTRIBUTES],
            KeySchema: [...DYNAMODB_KEY_SCHEMA],
            GlobalSecondaryIndexes: [{ IndexName: DYNAMODB_LEASE_INDEX, KeySchema: [...DYNAMODB_INDEX_KEY_SCHEMA], Projection: { ProjectionType: 'ALL' } }],
            DeletionProtectionEnabled: true,
            Tags: [{ Key: 'managed-by', Value: 'credops' }],
          }),
        );
        report.created = true;
        report.notes.push(`created table ${where.table} (on-demand billing, index ${DYNAMODB_LEASE_INDEX}, deletion protection)`);
      } catch (err) {
        if (!(err instanceof ResourceInUseException)) throw err;
        report.notes.push(`table ${where.table} was being created by someone else; checking it`);
      }
      await waitUntilTableExists({ client, maxWaitTime: opts.waitSeconds ?? 300, minDelay: 1, maxDelay: 5 }, { TableName: where.table });
      table = await describe(client, where.table);
    } else {
      report.notes.push(`table ${where.table} exists; checking it`);
    }
    if (!table) throw new Error(`bug: table ${where.table} is missing after it was created`);
    report.problems.push(...schemaProblems(table));
    if (!report.created && !table.DeletionProtectionEnabled) {
      report.warnings.push(`deletion protection is off: aws dynamodb update-table --table-name ${where.table} --deletion-protection-enabled`);
    }
    if (report.problems.length === 0) await ensurePointInTimeRecovery(client, where.table, report);
    if (report.created && report.problems.length === 0 && table.DeletionProtectionEnabled === false) {
      await client.send(new UpdateTableCommand({ TableName: where.table, DeletionProtectionEnabled: true })).catch((err: unknown) => {
        report.warnings.push(`could not turn deletion protection on: ${errorMessage(err)}`);
      });
    }
    return report;
  } finally {
    client.destroy();
  }
}

async function describe(client: ReturnType<typeof dynamoClient>, table: string): Promise<TableDescription | undefined> {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: table }))).Table;
  } catch (err) {
    // tableError (dynamodb.ts) turned ResourceNotFound into a UserError; its cause says what it was.
    if (err instanceof ResourceNotFoundException || (err as { cause?: unknown }).cause instanceof ResourceNotFoundException) return undefined;
    throw err;
  }
}

/** Every way the table's keys and index differ from credops's layout. */
export function schemaProblems(table: TableDescription): string[] {
  const problems: string[] = [];
  const types = new Map((table.AttributeDefinitions ?? []).map((a) => [a.AttributeName, a.AttributeType]));
  const keys = (schema: readonly { AttributeName?: string; KeyType?: string }[] | undefined) =>
    (schema ?? []).map((k) => `${k.AttributeName} (${k.KeyType}, ${types.get(k.AttributeName) ?? '?'})`).join(', ');
  const want = (schema: readonly { AttributeName: string; KeyType: string }[]) =>
    schema.map((k) => `${k.AttributeName} (${k.KeyType}, ${DYNAMODB_ATTRIBUTES.find((a) => a.AttributeName === k.AttributeName)?.AttributeType})`).join(', ');
  if (keys(table.KeySchema) !== want(DYNAMODB_KEY_SCHEMA)) {
    problems.push(`its key is ${keys(table.KeySchema) || 'unknown'}; credops needs ${want(DYNAMODB_KEY_SCHEMA)}`);
  }
  const index = table.GlobalSecondaryIndexes?.find((i) => i.IndexName === DYNAMODB_LEASE_INDEX);
  if (!index) {
    problems.push(`it has no global secondary index ${DYNAMODB_LEASE_INDEX} on ${want(DYNAMODB_INDEX_KEY_SCHEMA)}, projecting ALL`);
  } else {
    if (keys(index.KeySchema) !== want(DYNAMODB_INDEX_KEY_SCHEMA)) {
      problems.push(`its index ${DYNAMODB_LEASE_INDEX} is on ${keys(index.KeySchema)}; credops needs ${want(DYNAMODB_INDEX_KEY_SCHEMA)}`);
    }
    if (index.Projection?.ProjectionType !== 'ALL') problems.push(`its index ${DYNAMODB_LEASE_INDEX} projects ${index.Projection?.ProjectionType ?? 'nothing'}; credops needs ALL`);
  }
  return problems;
}

async function ensurePointInTimeRecovery(client: ReturnType<typeof dynamoClient>, table: string, report: InitReport): Promise<void> {
  try {
    const backups = await client.send(new DescribeContinuousBackupsCommand({ TableName: table }));
    if (backups.ContinuousBackupsDescription?.PointInTimeRecoveryDescription?.PointInTimeRecoveryStatus === 'ENABLED') {
      report.notes.push('point-in-time recovery is on');
      return;
    }
    await client.send(new UpdateContinuousBackupsCommand({ TableName: table, PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }));
    report.notes.push('turned point-in-time recovery on');
  } catch (err) {
    const name = (err as { name?: string }).name ?? '';
    const why = /UnknownOperation|NotImplemented|UnsupportedOperation/.test(name) ? 'this endpoint does not support it' : `${name}: ${errorMessage(err)}`;
    report.warnings.push(`point-in-time recovery could not be turned on (${why}); turn it on for a state you cannot afford to lose`);
  }
}
