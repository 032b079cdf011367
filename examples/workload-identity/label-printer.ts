/**
 * Label Printer: a workload with no secret and no key of its own (workload identity federation). Its
 * credential is the service-account token its cluster projects into a file; m2m-token reads the file
 * for each token request and sends it as the client assertion (RFC 7523 2.2), so when kubelet rotates
 * the file, the next token request uses the new token, without a restart.
 */
import { ClientCredentialsClient, type TokenEvent } from 'm2m-token';

export interface LabelPrinterConfig {
  tokenEndpoint: string;
  clientId: string;
  /** The projected token file, e.g. /var/run/secrets/tokens/token (or AZURE_FEDERATED_TOKEN_FILE). */
  tokenFile: string;
  audience: string;
  scope?: string;
  onEvent?: (event: TokenEvent) => void;
  fetch?: typeof globalThis.fetch;
}

export function createLabelPrinterClient(config: LabelPrinterConfig): ClientCredentialsClient {
  return new ClientCredentialsClient({
    tokenEndpoint: config.tokenEndpoint,
    clientId: config.clientId,
    // The only credential: authMethod is private_key_jwt, the assertion is the cluster's token.
    clientAssertionFile: config.tokenFile,
    audience: config.audience,
    ...(config.scope ? { scope: config.scope } : {}),
    ...(config.onEvent ? { onEvent: config.onEvent } : {}),
    ...(config.fetch ? { fetch: config.fetch } : {}),
  });
}
