/**
 * A real @node-oauth/oauth2-server 5 (the framework-agnostic OAuth 2.0 server library many Express
 * and Koa services embed) behind node:http on a free loopback port, with the model a service would
 * write for the client credentials grant: clients with secrets, opaque tokens kept in memory.
 *
 *   const as = await startNodeOAuth2Server();
 *   as.tokenEndpoint                       POST: oauth.token()
 *   as.resourceUrl                         GET: oauth.authenticate(), the library's own token check
 *   as.clients.basic | post | reserved     { clientId, clientSecret }
 *   as.requests                            the token requests it received (headers, parsed form body, status)
 *   as.revoke(accessToken)                 drops a token from the model (the resource then answers 401)
 *   as.close()
 *
 * What the library does (v5), which the tests rely on:
 *   - client authentication: Basic (decoded with `basic-auth`: base64, split at the first ':', no
 *     form-decoding, so reserved characters must be sent raw) or `client_id` + `client_secret` in the
 *     form body; nothing else (no client assertions, no mTLS, no DPoP);
 *   - only `application/x-www-form-urlencoded` bodies (JSON: 400 invalid_request);
 *   - a refused client is 400 invalid_client, or 401 with `WWW-Authenticate: Basic` when Basic was used;
 *   - no metadata document (RFC 8414): the library has no discovery endpoint.
 *
 * The model grants each client only the scopes it was registered with (validateScope); scope
 * `api.read` is registered for every client.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import OAuth2Server from '@node-oauth/oauth2-server';
import { closeServer, listenOnLoopback } from './ports.js';

const { Request, Response } = OAuth2Server;

export interface NodeOAuth2Client {
  clientId: string;
  clientSecret: string;
}

export interface NodeOAuth2Request {
  headers: IncomingHttpHeaders;
  body: Record<string, string>;
  status: number;
}

export interface NodeOAuth2ServerHarness {
  tokenEndpoint: string;
  resourceUrl: string;
  clients: { basic: NodeOAuth2Client; post: NodeOAuth2Client; reserved: NodeOAuth2Client };
  requests: NodeOAuth2Request[];
  /** Tokens the model currently holds. */
  readonly tokenCount: number;
  /** Whether the model knows this access token (the library's own check, as a resource server does). */
  isActive(accessToken: string): boolean;
  revoke(accessToken: string): void;
  close(): Promise<void>;
}

interface StoredToken {
  accessToken: string;
  accessTokenExpiresAt?: Date;
  scope?: string[];
  client: { id: string; grants: string[] };
  user: { id: string };
}

const secret = () => randomBytes(18).toString('base64url');

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startNodeOAuth2Server(): Promise<NodeOAuth2ServerHarness> {
  const clients = {
    basic: { clientId: 'basic-client', clientSecret: secret() },
    post: { clientId: 'post-client', clientSecret: secret() },
    // A base64 secret: `+ / =` (and `: %`) change under form-urlencoding (RFC 6749 2.3.1).
    reserved: { clientId: 'reserved-client', clientSecret: `${secret()}+/=:%x` },
  };
  const registered = new Map(
    Object.values(clients).map((c) => [
      c.clientId,
      { id: c.clientId, secret: c.clientSecret, grants: ['client_credentials'], scopes: ['api.read'] },
    ]),
  );
  const tokens = new Map<string, StoredToken>();

  const oauth = new OAuth2Server({
    accessTokenLifetime: 3600,
    model: {
      // The library hands over the values exactly as decoded from Basic or the form body.
      getClient: async (clientId: string, clientSecret: string | null) => {
        const client = registered.get(clientId);
        if (!client || (clientSecret !== null && clientSecret !== client.secret)) return null;
        return { id: client.id, grants: client.grants };
      },
      getUserFromClient: async (client: { id: string }) => ({ id: client.id }),
      validateScope: async (_user: unknown, client: { id: string }, scope?: string[]) => {
        const allowed = registered.get(client.id)?.scopes ?? [];
        const granted = (scope ?? []).filter((s) => allowed.includes(s));
        return granted.length > 0 ? granted : false;
      },
      saveToken: async (
        token: Omit<StoredToken, 'client' | 'user'>,
        client: StoredToken['client'],
        user: { id: string },
      ) => {
        const stored: StoredToken = { ...token, client, user };
        tokens.set(token.accessToken, stored);
        return stored;
      },
      getAccessToken: async (accessToken: string) => tokens.get(accessToken) ?? null,
      verifyScope: async () => true,
    } as never,
  });

  const requests: NodeOAuth2Request[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const raw = await readBody(req);
      const isForm = (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
      const body = isForm ? Object.fromEntries(new URLSearchParams(raw)) : {};
      const request = new Request({
        method: req.method ?? 'GET',
        headers: req.headers as Record<string, string>,
        query: Object.fromEntries(url.searchParams),
        body,
      });
      const response = new Response({ headers: {} });
      let status: number;
      let payload: unknown;
      try {
        if (url.pathname === '/token') await oauth.token(request, response);
        else if (url.pathname === '/api/orders') {
          await oauth.authenticate(request, response);
          response.body = { ok: true };
        } else throw Object.assign(new Error('not found'), { code: 404, name: 'not_found' });
        status = response.status ?? 200;
        payload = response.body;
      } catch (error) {
        const e = error as { code?: number; name?: string; message?: string };
        status = e.code ?? 500;
        payload = { error: e.name, error_description: e.message };
      }
      if (url.pathname === '/token') requests.push({ headers: req.headers, body, status });
      for (const [name, value] of Object.entries(response.headers ?? {})) res.setHeader(name, value);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload ?? {}));
    })();
  });
  const port = await listenOnLoopback(server);
  const base = `http://127.0.0.1:${port}`;
  return {
    tokenEndpoint: `${base}/token`,
    resourceUrl: `${base}/api/orders`,
    clients,
    requests,
    get tokenCount() {
      return tokens.size;
    },
    isActive: (accessToken) => tokens.has(accessToken),
    revoke: (accessToken) => {
      tokens.delete(accessToken);
    },
    close: () => closeServer(server),
  };
}
