import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { errors } from 'oidc-provider';

export const OIDC_CLIENT_ID = 'billing-archive-console';
export const OIDC_CLIENT_SECRET = 'console-client-secret-for-tests-0123456789';
/** The scope the console asks for: OpenID's, and the API's own (a resource scope here). */
export const OIDC_SCOPE = 'openid profile api';

export interface TestOidcProvider {
  issuer: string;
  jwksUrl: string;
  /** The server's environment for sign-in by redirect at this provider. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * A real OpenID provider on loopback (panva's oidc-provider, the certified implementation) standing
 * in for Entra ID: authorization code flow with PKCE, JWT access tokens for one audience with a
 * `roles` claim per account, and its development sign-in pages, where any login with any password
 * signs in as the account of that name.
 */
export async function startOidcProvider(options: {
  audience: string;
  redirectUrl: string;
  /** Each account's app roles; an account not named has none. */
  roles: Record<string, string[]>;
}): Promise<TestOidcProvider> {
  let handle: (request: IncomingMessage, response: ServerResponse) => void = (_request, response) => {
    response.statusCode = 503;
    response.end();
  };
  const server = createServer((request, response) => {
    handle(request, response);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  // Named localhost, though it listens on 127.0.0.1: to a browser another site than a server at
  // 127.0.0.1, as Entra ID is to a deployment, so SameSite rules apply as they will there.
  const issuer = `http://localhost:${(server.address() as AddressInfo).port}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signing = { ...(await exportJWK(privateKey)), kid: 'test-signing-1', alg: 'RS256', use: 'sig' };
  const { audience } = options;

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: OIDC_CLIENT_ID,
        client_secret: OIDC_CLIENT_SECRET,
        redirect_uris: [options.redirectUrl],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    jwks: { keys: [signing] },
    cookies: { keys: ['oidc-provider-cookie-key-for-tests'] },
    findAccount: (_ctx, id) => ({
      accountId: id,
      claims: () => ({ sub: id, name: `User ${id}` }),
    }),
    claims: { openid: ['sub'], profile: ['name'] },
    features: {
      devInteractions: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          if (resource !== audience) throw new errors.InvalidTarget();
          return {
            scope: 'api',
            audience,
            accessTokenFormat: 'jwt',
            accessTokenTTL: 600,
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    // As Entra ID puts the app roles assigned to the user in the access token.
    extraTokenClaims: (_ctx, token) => {
      const account = 'accountId' in token ? token.accountId : '';
      return { roles: options.roles[account] ?? [], name: `User ${account}` };
    },
  });
  const callback = provider.callback();
  handle = (request, response) => {
    void callback(request, response);
  };

  return {
    issuer,
    jwksUrl: `${issuer}/jwks`,
    env: {
      AUTH_JWT_ISSUER: issuer,
      AUTH_JWT_AUDIENCE: audience,
      AUTH_JWT_JWKS_URL: `${issuer}/jwks`,
      AUTH_OIDC_CLIENT_ID: OIDC_CLIENT_ID,
      AUTH_OIDC_CLIENT_SECRET: OIDC_CLIENT_SECRET,
      AUTH_OIDC_REDIRECT_URL: options.redirectUrl,
      AUTH_OIDC_SCOPE: OIDC_SCOPE,
      AUTH_OIDC_RESOURCE: audience,
    },
    stop: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
