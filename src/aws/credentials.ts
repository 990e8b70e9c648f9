import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@aws-sdk/types';

/**
 * The root identity of a mount: the AWS identity credops acts as (Vault's
 * aws/config/root). Keys stored by `credops config root` when there are any
 * (read through `stored`, which the caller builds from the state), else the AWS
 * SDK's default chain (environment, web identity / CI OIDC, SSO, shared
 * config, container and instance profiles). `env` is where the environment link
 * of the default chain is read.
 */
export function rootCredentialsProvider(
  stored: () => Promise<{ accessKeyId: string; secretAccessKey: string } | undefined>,
  env: NodeJS.ProcessEnv = process.env,
): AwsCredentialIdentityProvider {
  let chain: ReturnType<typeof fromNodeProviderChain> | undefined;
  return async (options) => {
    const keys = await stored();
    if (keys) {
      // Static keys would be cached by the SDK for the client's life, but
      // `config rotate-root` deletes the replaced key right after storing the new
      // one. An expiration of "now" makes the SDK ask this provider before each
      // request, so every request is signed with the key the state holds then.
      // One settings read per AWS call is cheap next to the call itself.
      return { accessKeyId: keys.accessKeyId, secretAccessKey: keys.secretAccessKey, expiration: new Date() };
    }
    const fromEnv = environmentCredentials(env);
    if (fromEnv) return fromEnv;
    chain ??= fromNodeProviderChain(env.AWS_PROFILE ? { profile: env.AWS_PROFILE } : {});
    return chain(options);
  };
}

/** For clients outside any mount (sinks): static keys from the env passed in, else the SDK's default chain (which reads process.env). */
export function defaultChain(env: NodeJS.ProcessEnv): AwsCredentialIdentityProvider {
  const identity = environmentCredentials(env);
  if (identity) return async () => identity;
  return fromNodeProviderChain();
}

/**
 * The first link of the default chain, read from `env` rather than
 * process.env so that a command run with its own environment (tests, the
 * programmatic API) gets the identity it was given. Same variables as the SDK's fromEnv.
 */
function environmentCredentials(env: NodeJS.ProcessEnv): AwsCredentialIdentity | undefined {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) return undefined;
  const expiration = env.AWS_CREDENTIAL_EXPIRATION ? new Date(env.AWS_CREDENTIAL_EXPIRATION) : undefined;
  return {
    accessKeyId,
    secretAccessKey,
    ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
    ...(expiration && !Number.isNaN(expiration.getTime()) ? { expiration } : {}),
  };
}
