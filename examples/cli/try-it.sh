#!/bin/sh
# m2m-token from a terminal, against the local example servers (development only):
#   npm run example:servers                       # http://127.0.0.1:4000/ and http://127.0.0.1:4001
#   npm run build && sh examples/cli/try-it.sh
# M2M (the command), AUTH_URL and API_URL can be overridden.
set -eu

M2M=${M2M:-"node dist/cli.js"}
AUTH_URL=${AUTH_URL:-http://127.0.0.1:4000}
API_URL=${API_URL:-http://127.0.0.1:4001}

# The client's settings, as a service would receive them. The secret is the example server's public
# development secret; a real one would come from a secret store, a file (--client-secret-file) or stdin.
export M2M_ISSUER="$AUTH_URL/"   # discovery: RFC 8414, then OpenID Connect
export M2M_CLIENT_ID=gift-deliveries
export M2M_CLIENT_SECRET=dev-only-gift-deliveries-secret-do-not-reuse
export M2M_AUDIENCE=urn:worldmappers

echo '# the access token alone, straight into curl'
curl -s -H "Authorization: Bearer $($M2M token --scope geocode:location)" \
  "$API_URL/api/location/geocode?address=Seattle"
echo

echo '# what is inside (decoded only, not verified)'
$M2M token --scope geocode:location --decode

echo '# the same call through the fetch wrapper, with the status line and headers'
$M2M fetch "$API_URL/api/location/geocode?address=Seattle" --scope geocode:location -i
echo

echo '# a wrong secret: exit status 1, the OAuth error on stderr'
M2M_CLIENT_SECRET=wrong $M2M token || echo "exit status $?"

echo '# a missing option: exit status 2 and a hint'
M2M_CLIENT_ID= $M2M token || echo "exit status $?"
