/**
 * If-None-Match as the origin server evaluates it (RFC 9110 §13.1.2), for GET and HEAD: the header
 * is `*` or a comma list of entity tags, compared weakly (`W/"3"` matches `"3"`). `Cache-Control:
 * no-cache` on the request does not change the answer: it tells caches to revalidate, which is what
 * a conditional request to the origin is (Express's `req.fresh` treats it as "never fresh").
 *
 * Elements that are not entity tags are ignored, so `"3", junk` still matches `"3"`.
 */
export function ifNoneMatchMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const current = opaqueTag(etag);
  if (current === undefined) return false;
  return entityTags(header).some((tag) => tag === '*' || tag === current);
}

/** The opaque part of an entity tag (`W/"3"` and `"3"` → `3`), undefined for anything else. */
function opaqueTag(value: string): string | undefined {
  const match = /^(?:W\/)?"([\x21\x23-\x7e\x80-\xff]*)"$/.exec(value.trim());
  return match?.[1];
}

/** The elements of an If-None-Match list: `*`, or the opaque tags (a comma inside quotes is part of the tag). */
function entityTags(header: string): string[] {
  const tags: string[] = [];
  const element = /\s*(\*|(?:W\/)?"[^"]*")\s*(?:,|$)|[^,]*(?:,|$)/g;
  for (let match = element.exec(header); match && match[0] !== ''; match = element.exec(header)) {
    const raw = match[1];
    if (raw === undefined) continue;
    if (raw === '*') tags.push('*');
    else {
      const opaque = opaqueTag(raw);
      if (opaque !== undefined) tags.push(opaque);
    }
  }
  return tags;
}

/** Whether a response of this request may be a 304: only GET and HEAD are conditional on If-None-Match here. */
export function isConditionalRead(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}

/**
 * Leaves the 304 to ResponseHeadersInterceptor alone: Express's `req.fresh` (consulted by
 * `res.send`) answers "stale" to any request with `Cache-Control: no-cache`, and "fresh" to
 * `If-None-Match: *` even for a response without an ETag (a list), so it is always false here.
 */
export function disableExpressFreshness(app: { request: object }): void {
  Object.defineProperty(app.request, 'fresh', { configurable: true, enumerable: true, get: () => false });
}
