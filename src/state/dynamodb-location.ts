import { parseDuration } from '../duration.js';
import { UserError } from '../errors.js';

/**
 * A DynamoDB state URL, parsed: dynamodb://TABLE/KEY[?region=R&endpoint=URL&lock_ttl=60s].
 * KEY names one state in the table (like Terraform's `key`): several repos or
 * environments share one table. Without region and endpoint the SDK's own
 * configuration applies (AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB, profiles).
 */
export interface DynamoLocation {
  url: string;
  table: string;
  key: string;
  region?: string;
  endpoint?: string;
  /** How long the writer lock lives without renewal (default 60s). */
  lockTtlMs?: number;
}

/** The table's key schema: one partition per state, items sorted within it. */
export const DYNAMODB_KEY_SCHEMA = [
  { AttributeName: 'pk', KeyType: 'HASH' },
  { AttributeName: 'sk', KeyType: 'RANGE' },
] as const;

/** The index of leases by the time they are due for revocation (the expiry sweep reads it, never a Scan). */
export const DYNAMODB_LEASE_INDEX = 'leases-by-due';

export const DYNAMODB_ATTRIBUTES = [
  { AttributeName: 'pk', AttributeType: 'S' },
  { AttributeName: 'sk', AttributeType: 'S' },
  { AttributeName: 'state', AttributeType: 'S' },
  { AttributeName: 'due', AttributeType: 'N' },
] as const;

export const DYNAMODB_INDEX_KEY_SCHEMA = [
  { AttributeName: 'state', KeyType: 'HASH' },
  { AttributeName: 'due', KeyType: 'RANGE' },
] as const;

const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;
const KNOWN_PARAMS = ['region', 'endpoint', 'lock_ttl'];

export function parseDynamoUrl(url: string): DynamoLocation {
  const example = 'e.g. dynamodb://credops-state/prod or dynamodb://credops-state/team-a/prod?region=eu-west-1';
  const match = /^dynamodb:\/\/([^/?#]*)\/?([^?#]*)(?:\?([^#]*))?$/i.exec(url);
  if (!match) throw new UserError(`state URL "${url}" is not dynamodb://TABLE/KEY; ${example}`);
  const [, table = '', rawKey = '', query = ''] = match;
  if (!TABLE_NAME.test(table)) {
    throw new UserError(`state URL "${url}": "${table}" is not a DynamoDB table name (3 to 255 of A-Z a-z 0-9 _ . -); ${example}`);
  }
  let key: string;
  try {
    key = decodeURIComponent(rawKey);
  } catch {
    throw new UserError(`state URL "${url}": its key "${rawKey}" is not valid percent-encoding`);
  }
  if (key === '') throw new UserError(`state URL "${url}" has no key after the table name: it names the state within the table; ${example}`);
  if (Buffer.byteLength(key) > 1024) throw new UserError(`state URL "${url}": the key is longer than 1024 bytes`);

  const where: DynamoLocation = { url, table, key };
  const params = new URLSearchParams(query);
  for (const name of params.keys()) {
    if (!KNOWN_PARAMS.includes(name)) throw new UserError(`state URL "${url}": unknown parameter "${name}" (known: ${KNOWN_PARAMS.join(', ')})`);
  }
  const region = params.get('region');
  if (region !== null) {
    if (!/^[a-z0-9-]+$/.test(region)) throw new UserError(`state URL "${url}": region "${region}" is not an AWS region name`);
    where.region = region;
  }
  const endpoint = params.get('endpoint');
  if (endpoint !== null) {
    if (!/^https?:\/\/[^/]/.test(endpoint)) throw new UserError(`state URL "${url}": endpoint "${endpoint}" must be an http:// or https:// URL`);
    where.endpoint = endpoint;
  }
  const ttl = params.get('lock_ttl');
  if (ttl !== null) {
    let seconds: number;
    try {
      seconds = parseDuration(ttl);
    } catch (err) {
      throw new UserError(`state URL "${url}": lock_ttl: ${(err as Error).message}`);
    }
    if (seconds < 1) throw new UserError(`state URL "${url}": lock_ttl must be at least 1s`);
    where.lockTtlMs = seconds * 1000;
  }
  return where;
}
