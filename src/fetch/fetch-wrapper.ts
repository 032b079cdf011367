// PLACEHOLDER: being written by the fetch-wrapper engineer (issue 4). Must be replaced.
import type { ClientInternals } from '../internal.js';

export interface CreateFetchOptions {
  audience?: string;
  scope?: string | readonly string[];
  resource?: string | readonly string[];
  extraParams?: Readonly<Record<string, string>>;
  fetch?: typeof globalThis.fetch;
  allowedOrigins?: readonly string[];
}

export function createAuthorizedFetch(_client: ClientInternals, _options: CreateFetchOptions): typeof globalThis.fetch {
  throw new Error('not implemented yet');
}
