import { ErrorCode, HttpError } from '../errors.js';

/**
 * Reads a response body as text, up to `maxBytes` of *decoded* bytes. The body is always streamed and
 * counted as it arrives, after the runtime has undone any Content-Encoding, whatever Content-Length and
 * Content-Encoding claim: a small gzip (or `gzip, gzip`, br, `deflate, deflate`) body can inflate to
 * gigabytes, and only counting what comes out of the decoder bounds that. A larger body is cancelled
 * (which also stops the decoder) and reported as HttpError `M2M_RESPONSE_TOO_LARGE`.
 *
 * A declared Content-Length over the cap is refused before reading when no Content-Encoding is given
 * (the declared length is then the decoded length). The request's timeout signal also covers this read,
 * so a body that trickles forever ends with the runtime's TimeoutError.
 *
 * Every body m2m-token reads from a server goes through here: token responses, discovery documents (and
 * any JWKS a future version fetches).
 *
 * @param what names the answering party in the error message, e.g. `token endpoint https://...`.
 */
export async function readBodyCapped(
  response: Response,
  maxBytes: number,
  what = 'token endpoint',
): Promise<string> {
  const encoding = response.headers.get('content-encoding');
  if (encoding === null || /^\s*(identity\s*)?$/i.test(encoding)) {
    const declared = Number(response.headers.get('content-length') ?? Number.NaN);
    if (Number.isFinite(declared) && declared > maxBytes) {
      discardBody(response);
      throw tooLarge(what, response.status, maxBytes);
    }
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      // Not awaited: see discardBody.
      void reader.cancel().catch(() => undefined);
      throw tooLarge(what, response.status, maxBytes);
    }
    chunks.push(value);
  }
  const decoder = new TextDecoder();
  if (chunks.length === 1) return decoder.decode(chunks[0]);
  const all = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return decoder.decode(all);
}

/**
 * Releases a body we will not read. Not awaited: cancelling one branch of a teed stream (a fetch wrapper
 * or mock that cloned the response) settles only when the other branch is cancelled too, which may be never.
 */
export function discardBody(response: Response): void {
  void response.body?.cancel().catch(() => undefined);
}

function tooLarge(what: string, status: number, maxBytes: number): HttpError {
  return new HttpError(`${what} answered ${status} with a body over ${maxBytes} bytes (decoded)`, {
    status,
    code: ErrorCode.RESPONSE_TOO_LARGE,
  });
}

/**
 * The body as a JSON object, or undefined when it is not one (another JSON value, or no JSON at all).
 * Any body that parses as a JSON object is accepted whatever its Content-Type: servers that send
 * `text/plain` or `text/html` with a valid token body exist, and the body itself is validated. A body
 * that does not start with `{` is not parsed at all (a catch-all HTML page, say).
 */
export function parseJsonObject(body: string): Record<string, unknown> | undefined {
  const trimmed = body.trimStart();
  if (!trimmed.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(trimmed);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
