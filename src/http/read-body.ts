import { ErrorCode, HttpError } from '../errors.js';

/**
 * Reads a response body as text, up to `maxBytes`. A larger body is cancelled and reported as
 * HttpError `M2M_RESPONSE_TOO_LARGE`, so a hostile endpoint cannot fill memory. The request's
 * timeout signal also covers this read, so a body that trickles forever ends with a TimeoutError.
 */
export async function readBodyCapped(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    discardBody(response);
    throw tooLarge(response.status, maxBytes);
  }
  if (!response.body) return '';
  // A declared length within the cap: one read by the runtime (the timeout signal still covers it).
  if (Number.isFinite(declared) && response.headers.has('content-length')) return response.text();
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
      throw tooLarge(response.status, maxBytes);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return new TextDecoder().decode(chunks[0]);
  const all = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(all);
}

/**
 * Releases a body we will not read. Not awaited: cancelling one branch of a teed stream (a fetch wrapper
 * or mock that cloned the response) settles only when the other branch is cancelled too, which may be never.
 */
export function discardBody(response: Response): void {
  void response.body?.cancel().catch(() => undefined);
}

function tooLarge(status: number, maxBytes: number): HttpError {
  return new HttpError(`token endpoint answered ${status} with a body over ${maxBytes} bytes`, {
    status,
    code: ErrorCode.RESPONSE_TOO_LARGE,
  });
}
