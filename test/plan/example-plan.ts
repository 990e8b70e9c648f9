/**
 * One representative change to the example repo, touching every kind of
 * change: a mount added, changed and removed; a role added (with a wildcard
 * policy), changed (policy, ARNs, tags) and removed (with live leases); a
 * sink added, changed and removed; a role whose policy file was only
 * reformatted (no change); a validation warning.
 */
import type { Diagnostic } from '../../src/errors.js';
import type { Lease } from '../../src/model/types.js';
import { applied, desired, leases, mount, role, sink } from './build.js';

const deployBefore = role('aws', 'deploy', {
  policy_document: {
    Version: '2012-10-17',
    Statement: [{ Sid: 'Artifacts', Effect: 'Allow', Action: ['s3:GetObject', 's3:DeleteObject'], Resource: 'arn:aws:s3:::artifacts/*' }],
  },
  policy_arns: ['arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess', 'arn:aws:iam::123456789012:policy/deploy-base'],
  iam_tags: { env: 'dev', owner: 'platform' },
});

const deployAfter = role('aws', 'deploy', {
  policy_document: {
    Version: '2012-10-17',
    Statement: [
      { Sid: 'Artifacts', Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: 'arn:aws:s3:::artifacts/*' },
      { Sid: 'PassToEcs', Effect: 'Allow', Action: 'iam:PassRole', Resource: '*' },
    ],
  },
  policy_arns: ['arn:aws:iam::123456789012:policy/deploy-base', 'arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess', 'arn:aws:iam::aws:policy/AmazonECS_FullAccess'],
  iam_tags: { env: 'prod', owner: 'platform', team: 'delivery' },
});

const auditBefore = role('aws', 'audit', {
  policy_file: 'policies/read-only.json',
  policy_document: { Version: '2012-10-17', Statement: { Effect: 'Allow', Action: ['cloudtrail:LookupEvents', 'cloudtrail:GetTrail'], Resource: '*' } },
});
// Same policy, reformatted and moved to another file: no change.
const auditAfter = role('aws', 'audit', {
  source: 'roles/audit-v2.json',
  policy_file: 'policies/audit.json',
  policy_document: { Statement: [{ Resource: ['*'], Action: ['cloudtrail:GetTrail', 'cloudtrail:LookupEvents'], Effect: 'Allow' }], Version: '2012-10-17' },
});

const ci = role('aws', 'ci', {
  credential_types: ['assumed_role'],
  role_arns: ['arn:aws:iam::123456789012:role/ci-deployer'],
  policy_document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:*', Resource: '*' }] },
  default_sts_ttl: 900,
  max_sts_ttl: 3600,
});

const legacy = role('aws', 'legacy', { policy_arns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] });

const reports = role('aws-eu-west-1', 'reports', {
  credential_types: ['federation_token'],
  policy_document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'athena:StartQueryExecution', Resource: 'arn:aws:athena:eu-west-1:123456789012:workgroup/reports' }] },
});

const vendor = { mount: 'aws', name: 'vendor', source: 'static-roles/vendor.json', username: 'vendor-bot', rotation_period: 30 * 24 * 3600 };
const partner = { mount: 'aws', name: 'partner', source: 'static-roles/partner.json', username: 'partner-sync', rotation_period: 24 * 3600 };

export const exampleApplied = applied({
  mounts: [mount('aws'), mount('aws-legacy', { region: 'eu-central-1' })],
  roles: [deployBefore, auditBefore, legacy],
  staticRoles: [partner],
  sinks: [
    sink('deploy-file'),
    sink('deploy-sm', { type: 'secretsmanager', config: { secret_id: 'ci/deploy', region: 'us-east-1' } }),
    sink('legacy-file', { role: 'legacy' }),
  ],
});

export const exampleDesired = desired({
  mounts: [mount('aws', { lease: 24 * 3600 }), mount('aws-eu-west-1', { region: 'eu-west-1' })],
  roles: [deployAfter, auditAfter, ci, reports],
  staticRoles: [vendor],
  sinks: [
    sink('deploy-file'),
    sink('deploy-sm', { type: 'secretsmanager', config: { secret_id: 'ci/deploy-prod', region: 'us-east-1' } }),
    sink('ci-file', { role: 'ci', ttl: 900 }),
  ],
});

export const exampleLeases: Lease[] = [...leases('aws', 'legacy', 3), ...leases('aws', 'deploy', 2)];

export const exampleWarnings: Diagnostic[] = [
  { file: 'roles/ci.json', line: 5, column: 7, pointer: '/policy_document/Statement/0', severity: 'warning', message: 'Action "ecr:*" with Resource "*" allows every ECR action on every resource' },
];
