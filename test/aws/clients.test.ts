import { describe, expect, it } from 'vitest';
import { createAwsClients, regionFor, retryModeFor } from '../../src/aws/clients.js';

const mount = { name: 'aws', lease: 1, lease_max: 1, roles: '' };

describe('AWS clients', () => {
  it('takes the region from the mount, then the SDK variables, then us-east-1', () => {
    expect(regionFor('eu-west-1', { AWS_REGION: 'us-west-2' })).toBe('eu-west-1');
    expect(regionFor(undefined, { AWS_REGION: 'us-west-2', AWS_DEFAULT_REGION: 'ap-south-1' })).toBe('us-west-2');
    expect(regionFor(undefined, { AWS_DEFAULT_REGION: 'ap-south-1' })).toBe('ap-south-1');
    expect(regionFor(undefined, {})).toBe('us-east-1');
  });

  it('retries adaptively unless AWS_RETRY_MODE says standard', () => {
    expect(retryModeFor({})).toBe('adaptive');
    expect(retryModeFor({ AWS_RETRY_MODE: 'standard' })).toBe('standard');
  });

  it('builds one client per mount, with the endpoint and max_retries of the mount', async () => {
    const clients = createAwsClients({ env: { AWS_ENDPOINT_URL: 'http://127.0.0.1:1' } });
    const custom = { ...mount, name: 'other', iam_endpoint: 'http://127.0.0.1:2', max_retries: 7, region: 'eu-west-1' };

    expect(clients.iam(mount)).toBe(clients.iam(mount));
    expect(clients.iam(custom)).not.toBe(clients.iam(mount));
    expect((await clients.iam(mount).config.endpoint!()).hostname).toBe('127.0.0.1');
    expect((await clients.iam(mount).config.endpoint!()).port).toBe(1);
    expect((await clients.iam(custom).config.endpoint!()).port).toBe(2);
    expect(await clients.iam(custom).config.maxAttempts()).toBe(8);
    expect(await clients.iam(mount).config.maxAttempts()).toBe(4);
    expect(await clients.iam(custom).config.region()).toBe('eu-west-1');
    expect(clients.sts(mount, { accessKeyId: 'AKIA', secretAccessKey: 's' })).not.toBe(clients.sts(mount));
  });
});
