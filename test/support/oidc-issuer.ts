/**
 * An OIDC issuer on 127.0.0.1 for credops server's stories: discovery
 * document, JWKS, and tokens signed like GitHub Actions' or a Kubernetes
 * cluster's (jose, RS256). It counts JWKS fetches, so a test can see the
 * refetch on an unknown key id and its rate limit.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload, type CryptoKey } from 'jose';

export interface Issuer {
  url: string;
  /** A token signed with the published key (or `key: 'rogue'`, a key the JWKS does not hold). */
  sign(claims: JWTPayload, opts?: { key?: 'published' | 'rogue' | 'next'; expiresIn?: string | number; audience?: string | string[]; issuer?: string }): Promise<string>;
  /** Publishes the `next` key too (a key rotation). */
  rotate(): void;
  jwksFetches(): number;
  close(): Promise<void>;
}

interface Key {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

async function key(kid: string): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

export async function startIssuer(): Promise<Issuer> {
  const keys = { published: await key('k1'), rogue: await key('k1-rogue'), next: await key('k2') };
  const published: Key[] = [keys.published];
  let fetches = 0;
  let url = '';
  const server: Server = createServer((req, res) => {
    if (req.url === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer: url, jwks_uri: `${url}/jwks`, id_token_signing_alg_values_supported: ['RS256'] }));
      return;
    }
    if (req.url === '/jwks') {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: published.map((k) => k.jwk) }));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    async sign(claims, opts = {}) {
      const k = keys[opts.key ?? 'published'];
      // A rogue key claims a published key's id: only the signature can tell.
      const kid = opts.key === 'rogue' ? keys.published.kid : k.kid;
      const jwt = new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid })
        .setIssuer(opts.issuer ?? url)
        .setAudience(opts.audience ?? 'credops')
        .setExpirationTime(opts.expiresIn ?? '5m');
      // A claims' own iat (a token from the future, or the past) is kept.
      return (claims.iat === undefined ? jwt.setIssuedAt() : jwt).sign(k.privateKey);
    },
    rotate: () => void published.push(keys.next),
    jwksFetches: () => fetches,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The claims GitHub Actions puts in its OIDC token for a workflow run of `repository`. */
export function githubClaims(repository: string, ref = 'refs/heads/main'): JWTPayload {
  return {
    sub: `repo:${repository}:ref:${ref}`,
    repository,
    repository_owner: repository.split('/')[0],
    ref,
    workflow: 'deploy',
    actor: 'octocat',
    event_name: 'push',
  };
}
