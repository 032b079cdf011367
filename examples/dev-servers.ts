/**
 * The two development servers in one process, on the ports the examples and the README use:
 * the authorization server on http://127.0.0.1:4000/ and the World Mappers API on
 * http://127.0.0.1:4001, which accepts its tokens. DEVELOPMENT ONLY (see auth-server/server.ts).
 *
 *   npm run example:servers            Ctrl+C stops both
 *
 * AUTH_PORT, API_PORT and HOST choose other ports (0: any free one) and another loopback address.
 */
import { startAuthServer } from './auth-server/server.js';
import { startWorldMappersApi } from './worldmappers-api/server.js';

const host = process.env.HOST ?? '127.0.0.1';
const auth = await startAuthServer({ port: Number(process.env.AUTH_PORT ?? 4000), host });
const api = await startWorldMappersApi({
  issuer: auth.issuer,
  port: Number(process.env.API_PORT ?? 4001),
  host,
});

console.log(`auth server        ${auth.issuer}  token endpoint ${auth.tokenEndpoint}  (development only)`);
console.log(`World Mappers API  ${api.url}  (audience urn:worldmappers)`);
console.log(
  'clients: gift-deliveries (secret in examples/quick-start/dev.env), route-planner (private_key_jwt)',
);
console.log('Ctrl+C stops both.');

// Ctrl+C reaches this process twice (from the terminal and relayed by tsx): every signal after the first
// is ignored while the servers close.
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  Promise.all([api.close(), auth.close()]).then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
