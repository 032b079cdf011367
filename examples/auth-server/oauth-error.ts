/** An RFC 6749 section 5.2 error answer from the token endpoint. */
export class OAuthErrorResponse extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 405 | 413,
    readonly error:
      | 'invalid_request'
      | 'invalid_client'
      | 'invalid_grant'
      | 'unauthorized_client'
      | 'unsupported_grant_type'
      | 'invalid_scope'
      | 'access_denied',
    readonly description: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(`${error}: ${description}`);
    this.name = 'OAuthErrorResponse';
  }

  /** The JSON body, e.g. `{ "error": "invalid_scope", "error_description": "..." }`. */
  toJSON(): { error: string; error_description: string } {
    // RFC 6749 5.2: error_description is limited to %x20-21 / %x23-5B / %x5D-7E (no quote, no backslash).
    const description = this.description.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, "'");
    return { error: this.error, error_description: description };
  }
}

export const invalidRequest = (description: string) =>
  new OAuthErrorResponse(400, 'invalid_request', description);
