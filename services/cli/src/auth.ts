// The CLI's ID token for the dispatcher's API, from its options and environment.
import { bearerTokens, type IdTokenSources } from '@bqbr/shared';

/** The ID token's sources from the options and the environment (docs/security.md#the-clis-token). */
export function apiAuthorization(
  apiUrl: string,
  values: { 'id-token'?: string | undefined; audience?: string | undefined },
  env: NodeJS.ProcessEnv,
  sources?: () => IdTokenSources,
): () => Promise<string | undefined> {
  const override = values['id-token'] ?? env['BQBR_ID_TOKEN'];
  // BQBR_API_AUDIENCE may list several (the dispatcher's form): the first is the one to ask for.
  const audience = values.audience ?? env['BQBR_API_AUDIENCE']?.split(',')[0]?.trim();
  return bearerTokens({
    apiUrl,
    ...(override ? { override: override.trim() } : {}),
    ...(audience ? { audience } : {}),
    ...(sources ? { sources } : {}),
  });
}
