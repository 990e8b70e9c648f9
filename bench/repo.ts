import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function role(i: number): object {
  switch (i % 4) {
    case 0:
      return {
        credential_type: 'iam_user',
        policy_document: i % 8 === 0 ? '@policies/shared.json' : { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject'], Resource: `arn:aws:s3:::bucket-${i}/*` }] },
        iam_tags: { team: `t${i % 17}` },
      };
    case 1:
      return { credential_type: 'assumed_role', role_arns: [`arn:aws:iam::123456789012:role/app-${i}`], default_sts_ttl: '15m', max_sts_ttl: '1h' };
    case 2:
      return { credential_type: 'federation_token', policy_arns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'], default_sts_ttl: 3600 };
    default:
      return { credential_type: 'session_token', default_sts_ttl: '1h' };
  }
}

/** A secrets repo of `roles` role files (all four credential types), a shared policy and 10 sinks. */
export function generateRepo(dir: string, roles: number): void {
  mkdirSync(join(dir, 'roles'), { recursive: true });
  mkdirSync(join(dir, 'policies'));
  mkdirSync(join(dir, 'sinks'));
  writeFileSync(join(dir, 'credops.yaml'), 'version: 1\nmounts:\n  aws:\n    region: us-east-1\n');
  writeFileSync(
    join(dir, 'policies', 'shared.json'),
    JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ec2:Describe*', Resource: '*' }] }, null, 2),
  );
  for (let i = 0; i < roles; i++) writeFileSync(join(dir, 'roles', `role-${i}.json`), JSON.stringify(role(i), null, 2));
  for (let i = 0; i < 10; i++) {
    writeFileSync(join(dir, 'sinks', `sink-${i}.yaml`), `role: role-${i * 4}\nttl: 1h\nfile:\n  path: out/sink-${i}\n`);
  }
}

