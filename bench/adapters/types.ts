/** What the harness knows about each library under test. */

export interface BenchEnv {
  tokenEndpoint: string;
  issuer: string;
  resourceUrl: string;
  clientId: string;
  clientSecret: string;
  /** default audience sent with every token request */
  audience: string;
  /** default scope */
  scope: string[];
}

/**
 * One configured client of one library. Every method returns the library's own promise, with no
 * wrapper of ours around it, so the timed loops measure the library and not the adapter. Methods a
 * library cannot do are left out and the figure prints "n/a".
 */
export interface TokenAdapter {
  /** true when getToken() is answered from a cache after the first call */
  readonly cached: boolean;
  /** a token for the default audience and scope */
  getToken(): Promise<unknown>;
  /** a token for a scope array passed on each call */
  getTokenScoped?(scope: string[]): Promise<unknown>;
  /** a token for another audience */
  getTokenFor?(audience: string): Promise<unknown>;
  /** an authenticated request through the library's fetch wrapper */
  fetch?(url: string): Promise<Response>;
  /** reads the access token out of what getToken*() resolved to */
  tokenOf(result: unknown): string;
  close?(): Promise<void> | void;
}

/** A client authentication case for the uncached figure. */
export interface AuthCase {
  label: string;
  authMethod: 'client_secret_basic' | 'client_secret_post' | 'client_secret_json' | 'private_key_jwt';
  /** private_key_jwt only */
  alg?: 'RS256' | 'ES256' | 'EdDSA';
  /** PKCS#8 PEM private key, private_key_jwt only */
  privateKeyPem?: string;
}

export interface Peer {
  /** display name */
  name: string;
  /** npm package the version is read from (undefined for the baselines and m2m-token itself) */
  packageName?: string;
  /** a caveat printed under the tables */
  note?: string;
  create(env: BenchEnv): Promise<TokenAdapter>;
  /**
   * A function making one uncached token request with the given client authentication, or
   * undefined when the library cannot do that method.
   */
  createUncached?(env: BenchEnv, auth: AuthCase): Promise<(() => Promise<unknown>) | undefined>;
}
