/** --help texts, generated from the tables of flags.ts so that they cannot drift from the parser. */
import {
  CLIENT_OPTIONS,
  COMMON_OPTIONS,
  FETCH_OPTIONS,
  flagName,
  type OptionSpec,
  RETRY_NOTE,
  SECRET_OPTIONS,
  TOKEN_OUTPUT_OPTIONS,
  WITHOUT_FLAG,
} from './flags.js';

function table(specs: readonly OptionSpec[], withEnv: boolean): string {
  const rows = specs.map((spec) => {
    const left = `${flagName(spec)}${spec.value ? ` ${spec.value}` : ''}`;
    return { left, env: withEnv ? (spec.env ?? '') : '', help: spec.help };
  });
  const leftWidth = Math.max(...rows.map((r) => r.left.length));
  const envWidth = Math.max(...rows.map((r) => r.env.length));
  return rows
    .map((r) => `  ${r.left.padEnd(leftWidth)}  ${withEnv ? `${r.env.padEnd(envWidth)}  ` : ''}${r.help}`)
    .join('\n');
}

/** The client options without a flag, grouped by reason. */
function withoutFlags(): string {
  const byReason = new Map<string, string[]>();
  for (const [option, reason] of Object.entries(WITHOUT_FLAG)) {
    byReason.set(reason, [...(byReason.get(reason) ?? []), option]);
  }
  const lines = [...byReason].map(([reason, options]) => `  ${options.join(', ')}: ${reason}`);
  return [...lines, `  retry (other than --retry): ${RETRY_NOTE}`].join('\n');
}

const CLIENT_SECTION = `Client options (each falls back to the environment variable shown; a flag wins):
${table(CLIENT_OPTIONS, true)}

Client secret (one source; never printed, not even with --verbose):
${table(SECRET_OPTIONS, true)}
  Options of the endpoint pair (--issuer, --token-endpoint) or of the credentials (secret sources,
  --private-key, --client-assertion-file) given on the command line make the environment be ignored
  for that group.
  Boolean variables take 1/true or 0/false.

Library options without a flag, and why:
${withoutFlags()}

Other options:
${table(COMMON_OPTIONS, false)}

Exit status: 0 success, 1 token or API error (the OAuth error on stderr), 2 usage error.`;

export const MAIN_HELP = `m2m-token: OAuth 2.0 client credentials (RFC 6749 4.4) from the command line

Usage:
  m2m-token token [options]        get an access token and print it
  m2m-token fetch URL [options]    call an API with a token
  m2m-token help [COMMAND]         show help
  m2m-token --version

Run 'm2m-token COMMAND --help' for the options and examples of a command.

Example:
  export M2M_TOKEN_ENDPOINT=https://idp.example.com/oauth/token M2M_CLIENT_ID=abc123
  read -rs M2M_CLIENT_SECRET && export M2M_CLIENT_SECRET
  curl -H "Authorization: Bearer $(m2m-token token --audience https://api.example.com/)" https://api.example.com/data
`;

export const TOKEN_HELP = `Usage: m2m-token token [options]

Gets an access token with the client credentials grant and prints the access token alone on stdout.

Output (at most one):
${table(TOKEN_OUTPUT_OPTIONS, false)}

${CLIENT_SECTION}

Examples:
  # The secret from the environment; the token straight into curl
  export M2M_CLIENT_SECRET=...   # or --client-secret-file ./secret, or --client-secret-stdin
  curl -H "Authorization: Bearer $(m2m-token token --token-endpoint https://idp.example.com/oauth/token \\
    --client-id abc123 --audience https://api.example.com/)" https://api.example.com/data

  # The same header, written by m2m-token
  curl -H "$(m2m-token token --auth-header)" https://api.example.com/data

  # Discovery from the issuer, two scopes, the whole token response
  m2m-token token --issuer https://idp.example.com/ --client-id abc123 --scope read:secrets --scope write:secrets --json

  # private_key_jwt, then look inside the token (not verified)
  m2m-token token --token-endpoint https://idp.example.com/oauth/token --client-id abc123 \\
    --private-key ./client-key.pem --key-id kid-1 --decode
`;

export const FETCH_HELP = `Usage: m2m-token fetch URL [options]

Calls URL with 'Authorization: Bearer <token>' and prints the response body on stdout. On a 401 the
token is renewed once and the request repeated. A response of 400 or more ends with exit status 1.

Request options:
${table(FETCH_OPTIONS, false)}

${CLIENT_SECTION}

Examples:
  export M2M_TOKEN_ENDPOINT=https://idp.example.com/oauth/token M2M_CLIENT_ID=abc123 M2M_CLIENT_SECRET=...
  m2m-token fetch https://api.example.com/data --audience https://api.example.com/
  m2m-token fetch https://api.example.com/items -X POST -H 'Content-Type: application/json' -d '{"name":"x"}' -i
  m2m-token fetch https://api.example.com/upload -d @payload.json -H 'Content-Type: application/json'
  m2m-token fetch https://api.example.com/orders --dpop    # DPoP-bound token, a proof with each request
`;
