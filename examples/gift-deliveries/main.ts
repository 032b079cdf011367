/**
 * Gift Deliveries from the command line: geocodes the addresses given as arguments and lists the
 * delivery routes, through the World Mappers API.
 *
 *   npx tsx --tsconfig examples/tsconfig.json --env-file=examples/gift-deliveries/dev.env \
 *     examples/gift-deliveries/main.ts "Seattle, WA" "Bellevue, WA"
 *
 * dev.env points at the development servers on ports 4000 and 4001 (see examples/README.md). For a
 * real Auth0 tenant set AUTH0_DOMAIN, AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET, RESOURCE_SERVER and
 * WORLDMAPPERS_API_URL instead: nothing else changes.
 */
import { M2MTokenError, OAuthError } from 'm2m-token';
import { ConfigError, configFromEnv, GiftDeliveries, WorldMappersApiError } from './client.js';

async function main(addresses: string[]): Promise<void> {
  const gifts = new GiftDeliveries(configFromEnv());

  for (const address of addresses.length > 0 ? addresses : ['Seattle, WA']) {
    const { lat, lng } = await gifts.geocode(address);
    console.log(`${address}: ${lat}, ${lng}`);
  }
  const routes = await gifts.listRoutes();
  console.log(`${routes.length} delivery routes:`);
  for (const route of routes) console.log(`  #${route.id} ${route.from} -> ${route.to}`);

  const token = await gifts.tokens.getToken(); // from the cache: no second token request
  console.log(`granted scope: ${token.scope ?? '(not stated)'}`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  // None of these messages contains the secret or a token.
  if (error instanceof ConfigError) console.error(error.message);
  else if (error instanceof OAuthError) {
    console.error(`The authorization server refused: ${error.error} ${error.errorDescription ?? ''}`);
  } else if (error instanceof WorldMappersApiError || error instanceof M2MTokenError) {
    console.error(error.message);
  } else console.error(error);
  process.exitCode = 1;
});
