/**
 * deploy/kubernetes/ and the Dockerfile (issue #13): every manifest is valid
 * against the Kubernetes API schemas (kubernetes-models' validators), and what
 * the Deployment tells credops (args, ports, probes, env) is what `credops
 * server` accepts and serves.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigMap, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { buildProgram } from '../../src/cli/main.js';
import { parseListen } from '../../src/server/http.js';
import type { Run } from '../../src/cli/runtime.js';

const ROOT = resolve(import.meta.dirname, '../..');
const DIR = join(ROOT, 'deploy/kubernetes');

type Manifest = { kind: string; metadata: { name: string }; [key: string]: unknown };
const MODELS: Record<string, new (data: never) => { validate(): void }> = { ConfigMap, Secret, Service, ServiceAccount, Deployment, PodDisruptionBudget };

function manifests(): Manifest[] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .flatMap((f) => parseAllDocuments(readFileSync(join(DIR, f), 'utf8')).map((d) => d.toJS() as Manifest));
}

function deployment() {
  const d = manifests().find((m) => m.kind === 'Deployment') as unknown as {
    spec: { template: { spec: { serviceAccountName: string; containers: Container[]; securityContext: Record<string, unknown> } } };
  };
  return { pod: d.spec.template.spec, container: d.spec.template.spec.containers[0]! };
}

interface Container {
  args: string[];
  ports: { name: string; containerPort: number }[];
  envFrom: ({ configMapRef?: { name: string } } | { secretRef?: { name: string } })[];
  readinessProbe: { httpGet: { path: string; port: string; scheme: string } };
  livenessProbe: { httpGet: { path: string; port: string; scheme: string } };
  securityContext: { readOnlyRootFilesystem: boolean; allowPrivilegeEscalation: boolean };
  volumeMounts: { name: string; mountPath: string }[];
}

describe('deploy/kubernetes', () => {
  it('holds a Deployment, Service, ServiceAccount, PodDisruptionBudget, ConfigMap and Secret, each valid against the Kubernetes schemas', () => {
    const all = manifests();
    expect(new Set(all.map((m) => m.kind))).toEqual(new Set(['Deployment', 'Service', 'ServiceAccount', 'PodDisruptionBudget', 'ConfigMap', 'Secret']));
    for (const m of all) expect(() => new MODELS[m.kind]!(m as never).validate(), `${m.kind} ${m.metadata.name}`).not.toThrow();
    const kustomization = readFileSync(join(DIR, 'kustomization.yaml'), 'utf8');
    for (const file of readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')) expect(kustomization).toContain(`- ${file}`);
  });

  it("passes credops server only flags it has, and its port and probes are the server's", () => {
    const { container, pod } = deployment();
    const server = buildProgram({ io: {} as Run['io'], exitCode: 0, signal: new AbortController().signal }).commands.find((c) => c.name() === 'server')!;
    const flags = new Set(server.options.map((o) => o.long));
    expect(container.args[0]).toBe('server');
    for (const arg of container.args.filter((a) => a.startsWith('--'))) expect(flags, arg).toContain(arg);

    const flag = (name: string) => container.args[container.args.indexOf(name) + 1]!;
    const { port } = parseListen(flag('--listen'));
    const api = container.ports.find((p) => p.name === 'api')!;
    expect(api.containerPort).toBe(port);
    for (const probe of [container.readinessProbe, container.livenessProbe]) {
      expect(probe.httpGet).toEqual({ path: '/v1/sys/health?standbyok=true', port: 'api', scheme: 'HTTPS' });
    }
    // HTTPS probes need the server to have TLS, from the mounted Secret.
    const tls = container.volumeMounts.find((v) => v.name === 'tls')!;
    expect(flag('--tls-cert-file').startsWith(`${tls.mountPath}/`)).toBe(true);
    expect(flag('--tls-key-file').startsWith(`${tls.mountPath}/`)).toBe(true);

    const service = manifests().find((m) => m.kind === 'Service') as unknown as { spec: { ports: { targetPort: string }[] } };
    expect(service.spec.ports[0]!.targetPort).toBe('api');
    expect(pod.serviceAccountName).toBe('credops');
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true });
  });

  it('gives credops its config from the ConfigMap and the Secret, with the variables credops reads', () => {
    const { container } = deployment();
    const config = manifests().find((m) => m.kind === 'ConfigMap') as unknown as { metadata: { name: string }; data: Record<string, string> };
    const secret = manifests().find((m) => m.kind === 'Secret' && m.metadata.name === 'credops') as unknown as { stringData: Record<string, string> };
    expect(container.envFrom).toEqual([{ configMapRef: { name: config.metadata.name } }, { secretRef: { name: 'credops' } }]);
    // $(VAR) in args is expanded by Kubernetes from the container's environment.
    for (const ref of container.args.join(' ').matchAll(/\$\((\w+)\)/g)) expect(Object.keys(config.data)).toContain(ref[1]);
    expect(Object.keys(config.data)).toContain('CREDOPS_STATE');
    expect(config.data.CREDOPS_STATE).toMatch(/^dynamodb:\/\//);
    expect(Object.keys(secret.stringData)).toEqual(['CREDOPS_STATE_KEY']);
  });
});

describe('Dockerfile', () => {
  it('builds in one stage and runs from another, as a non-root user, writing only to /work', () => {
    const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    expect(text.match(/^FROM /gm)).toHaveLength(2);
    const final = text.slice(text.lastIndexOf('\nFROM '));
    expect(final).toMatch(/^USER node$/m);
    expect(final).toMatch(/^WORKDIR \/work$/m);
    expect(final).not.toMatch(/apt-get install[^\n]*(g\+\+|make|python3)/);
    const { container } = deployment();
    expect(container.volumeMounts.map((v) => v.mountPath)).toEqual(expect.arrayContaining(['/work', '/tmp']));
    // What the final stage copies from the build exists in the repo or is built by `npm run build`.
    for (const m of final.matchAll(/COPY --from=build \/src\/(\S+)/g)) expect(['package.json', 'node_modules', 'bin', 'dist', 'schemas']).toContain(m[1]);
  });
});
