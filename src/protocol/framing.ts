/** @module HTTP/1.1 framing as the signature profile needs it: whether a request says it carries a body. */

/**
 * RFC 9112 §6.3: without Transfer-Encoding a request has a body only if Content-Length says so. Decided from the head
 * alone: a request is authenticated before its body is read, and one that declares a body MUST sign its Content-Digest.
 */
export function declaresBody(headers: Readonly<Record<string, string>>): boolean {
  const declared = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (declared !== undefined && declared !== '0');
}
