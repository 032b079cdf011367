/**
 * What every runtime of the matrix runs: one check per feature, against the loopback servers the
 * harness started in Node (their addresses and the test clients come in `config`). Plain JavaScript
 * with no imports of its own, so that Node 20.18.1, Bun, Deno and a worker bundle run it as it is;
 * what differs between runtimes comes in `host` (see node-program.mjs and worker-program.mjs).
 *
 * runCells(m2m, config, host) resolves to { [feature]: { ok: boolean, detail: string } }.
 */

function check(condition, message) {
  if (!condition) throw new Error(message);
}

/** Runs `construct`, expecting the SDK's ConfigurationError naming `option`. */
function expectConfigurationError(m2m, option, construct) {
  try {
    construct();
  } catch (error) {
    check(error instanceof m2m.ConfigurationError, `expected a ConfigurationError, got ${error?.name}`);
    check(error.name === 'ConfigurationError', `error name is ${error.name}`);
    check(error.option === option, `ConfigurationError names ${error.option}, not ${option}`);
    return error;
  }
  throw new Error('the constructor did not throw');
}

async function getJson(response) {
  const text = await response.text();
  check(response.status === 200, `API answered ${response.status}: ${text.slice(0, 200)}`);
  return JSON.parse(text);
}

/**
 * A client of the oidc-provider the harness started: `credentials` ({ clientId, clientSecret } or
 * { clientId, privateKey }) default to the client_secret_basic test client; `extra` overrides options.
 */
function opClient(m2m, config, { credentials = config.op.clients.basic, ...extra } = {}) {
  const op = config.op;
  return new m2m.ClientCredentialsClient({
    // An `issuer` in `extra` means discovery instead of the token endpoint.
    ...(extra.issuer === undefined ? { tokenEndpoint: op.tokenEndpoint } : {}),
    clientId: credentials.clientId,
    ...(credentials.clientSecret === undefined ? {} : { clientSecret: credentials.clientSecret }),
    ...(credentials.privateKey === undefined ? {} : { privateKey: credentials.privateKey }),
    resource: op.resources.api,
    scope: 'api:read',
    retry: false,
    ...extra,
  });
}

async function expectBearer(token) {
  check(typeof token.accessToken === 'string' && token.accessToken.length > 20, 'no access token');
  check(token.tokenType.toLowerCase() === 'bearer', `token_type ${token.tokenType}`);
  check(token.expiresAt > Date.now(), 'no expiry');
}

const CHECKS = {
  async import(m2m) {
    check(typeof m2m.ClientCredentialsClient === 'function', 'no ClientCredentialsClient');
    expectConfigurationError(
      m2m,
      'tokenEndpoint',
      () => new m2m.ClientCredentialsClient({ clientId: 'a', clientSecret: 'b' }),
    );
    return 'imported; a bad option is a ConfigurationError';
  },

  async require(_m2m, config, host) {
    const cjs = host.requireEntry('m2m-token');
    check(typeof cjs.ClientCredentialsClient === 'function', 'no ClientCredentialsClient from require');
    check(typeof host.requireEntry('m2m-token/redis').RedisTokenCache === 'function', 'no m2m-token/redis');
    check(
      typeof host.requireEntry('m2m-token/undici').bearerInterceptor === 'function',
      'no m2m-token/undici',
    );
    expectConfigurationError(
      cjs,
      'tokenEndpoint',
      () => new cjs.ClientCredentialsClient({ clientId: 'a', clientSecret: 'b' }),
    );
    // jose is loaded only when a JWT method needs it: not for client_secret_basic...
    const joseLoaded = () => host.loadedFiles().some((file) => /jose-parts-[\w-]+\.cjs$/.test(file));
    const basic = opClient(cjs, config);
    await expectBearer(await basic.getToken());
    check(!joseLoaded(), 'jose was loaded for client_secret_basic');
    // ...and then it is, lazily, from the CommonJS build (jose 6 itself is ESM-only).
    const { es256 } = config.op.clients;
    const client = opClient(cjs, config, {
      credentials: { clientId: es256.clientId, privateKey: es256.privateKeyPem },
    });
    await expectBearer(await client.getToken());
    check(joseLoaded(), 'the jose chunk was not seen loading');
    return 'main entry, /redis and /undici required; jose loaded only for private_key_jwt';
  },

  async client_secret_basic(m2m, config) {
    await expectBearer(await opClient(m2m, config, { authMethod: 'client_secret_basic' }).getToken());
    return 'token';
  },

  async client_secret_post(m2m, config) {
    const credentials = config.op.clients.post;
    await expectBearer(
      await opClient(m2m, config, { credentials, authMethod: 'client_secret_post' }).getToken(),
    );
    return 'token';
  },

  async client_secret_json(m2m, config) {
    const as = config.jsonServer;
    const client = new m2m.ClientCredentialsClient({
      tokenEndpoint: as.tokenEndpoint,
      clientId: as.clientId,
      clientSecret: as.clientSecret,
      authMethod: 'client_secret_json',
      audience: as.audience,
      retry: false,
    });
    await expectBearer(await client.getToken());
    return 'token (Auth0-style JSON body)';
  },

  async client_secret_jwt(m2m, config) {
    const credentials = config.op.clients.secretJwt;
    await expectBearer(
      await opClient(m2m, config, { credentials, authMethod: 'client_secret_jwt' }).getToken(),
    );
    return 'token';
  },

  async private_key_jwt(m2m, config) {
    const { es256, rs256 } = config.op.clients;
    const pem = opClient(m2m, config, {
      credentials: { clientId: es256.clientId, privateKey: es256.privateKeyPem },
    });
    await expectBearer(await pem.getToken());
    const jwk = opClient(m2m, config, {
      credentials: { clientId: rs256.clientId, privateKey: rs256.privateJwk },
    });
    await expectBearer(await jwk.getToken());
    return 'ES256 from a PKCS#8 PEM, RS256 from a JWK';
  },

  async tls_client_auth(m2m, config, host, cell) {
    const mtls = config.mtls;
    const options = {
      tokenEndpoint: mtls.tokenEndpoint,
      clientId: mtls.clientId,
      authMethod: 'tls_client_auth',
      certificate: mtls.certificate,
      privateKey: mtls.privateKey,
      retry: false,
    };
    if (host.mtls === 'builtin') {
      // Node: the client's own undici Agent presents the certificate (the CA from NODE_EXTRA_CA_CERTS).
      await expectBearer(await new m2m.ClientCredentialsClient(options).getToken());
      return "token over the client's own undici Agent";
    }
    // Everywhere else the built-in fetch cannot carry the certificate: refused at construction.
    const refused = expectConfigurationError(m2m, 'fetch', () => new m2m.ClientCredentialsClient(options));
    if (cell.mode === 'no') return `refused: ${refused.message.slice(0, 60)}...`;
    const own = await host.mtlsOptions(mtls);
    await expectBearer(await new m2m.ClientCredentialsClient({ ...options, ...own }).getToken());
    return 'built-in fetch refused with a ConfigurationError; token with the fetch the error names';
  },

  async discovery(m2m, config) {
    const client = opClient(m2m, config, { issuer: config.op.issuer });
    await expectBearer(await client.getToken());
    return 'token endpoint discovered';
  },

  async fetch(m2m, config) {
    const client = opClient(m2m, config);
    const body = await getJson(await client.fetch(`${config.api.url}/bearer`));
    check(body.clientId === config.op.clients.basic.clientId, 'the API saw another client');
    return 'API call with a verified Bearer token';
  },

  async retry401(m2m, config) {
    const client = opClient(m2m, config);
    const run = `${config.runtime}-${Math.random().toString(36).slice(2)}`;
    const body = await getJson(await client.fetch(`${config.api.url}/reject-first/${run}`));
    check(body.attempt === 2, `the API saw ${body.attempt} attempt(s)`);
    return 'first token refused (401 invalid_token); a new one accepted';
  },

  async dpop(m2m, config) {
    const client = opClient(m2m, config, { dpop: true });
    const token = await client.getToken();
    check(token.tokenType === 'DPoP', `token_type ${token.tokenType}`);
    const body = await getJson(await client.fetch(`${config.dpopApi.url}/dpop`));
    check(typeof body.jkt === 'string', 'the API saw no key binding');
    return 'DPoP-bound token, proof accepted by the API';
  },

  async undici(m2m, config, host) {
    const { bearerInterceptor } = await host.importUndiciEntry();
    const { Agent, request } = await host.importUndici();
    const client = opClient(m2m, config);
    const dispatcher = new Agent().compose(bearerInterceptor(client));
    const response = await request(`${config.api.url}/bearer`, { dispatcher });
    const text = await response.body.text();
    check(response.statusCode === 200, `API answered ${response.statusCode}: ${text.slice(0, 200)}`);
    await dispatcher.close?.();
    return 'undici request with the interceptor';
  },

  async redis(m2m, config, host) {
    if (!config.redis) return { skipped: 'no redis-server on this machine' };
    const { RedisTokenCache } = await host.importRedisEntry();
    const { createClient } = await host.importRedis();
    const redis = await createClient({ url: config.redis.url }).connect();
    try {
      const keyPrefix = `matrix:${config.runtime}:${Math.random().toString(36).slice(2)}:`;
      const cache = () => new RedisTokenCache({ client: redis, keyPrefix });
      const first = await opClient(m2m, config, { cache: cache() }).getToken();
      // A second client (as in another process) finds the token in Redis.
      const second = await opClient(m2m, config, { cache: cache() }).getToken();
      check(second.accessToken === first.accessToken, 'the second client did not get the shared token');
      const keys = await redis.keys(`${keyPrefix}*`);
      check(keys.length > 0, 'nothing stored in Redis');
      return 'token shared through Redis by two clients';
    } finally {
      await redis.quit();
    }
  },
};

/** Runs the cells asked for, one after the other; never throws. */
export async function runCells(m2m, config, host) {
  const results = {};
  for (const [feature, cell] of Object.entries(config.cells)) {
    const started = Date.now();
    try {
      if (cell.mode === 'no' && !cell.refused) {
        results[feature] = { ok: true, detail: 'not available (not run)' };
        continue;
      }
      const outcome = await CHECKS[feature](m2m, config, host, cell);
      results[feature] =
        typeof outcome === 'object'
          ? { ok: true, skipped: outcome.skipped, detail: outcome.skipped }
          : { ok: true, detail: outcome };
    } catch (error) {
      const cause = error?.cause ? ` (cause: ${error.cause?.message ?? error.cause})` : '';
      results[feature] = {
        ok: false,
        detail: `${error?.name ?? 'Error'}: ${error?.message ?? error}${cause}`,
      };
    }
    results[feature].ms = Date.now() - started;
  }
  return results;
}
