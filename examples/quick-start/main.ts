import { ClientCredentialsClient } from 'm2m-token';

const client = new ClientCredentialsClient({
  tokenEndpoint: 'http://127.0.0.1:4000/oauth/token', // the development auth server (npm run example:servers)
  clientId: 'gift-deliveries',
  clientSecret: process.env.CLIENT_SECRET!, // from the environment, never from the code
  audience: 'urn:worldmappers', // the API the token is for
});

// A token: cached, one request for concurrent callers, renewed before it expires.
const token = await client.getToken();
console.log(token); // safe to log: the access token shows as [redacted]; use token.accessToken

// Or let the client call the API: it sends the token and, on a 401, renews it and retries once.
const res = await client.fetch('http://127.0.0.1:4001/api/location/geocode?address=Berlin');
console.log(res.status, await res.json());
