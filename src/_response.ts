// Responses the pool makes from an endpoint's: the same status, headers and
// url over another body (a body read whole, a body whose url must not hold
// the endpoint's query).

/** Statuses whose responses never have a body (fetch never hands out a 1xx). */
export const NULL_BODY = [204, 205, 304];

/**
 * A Response like `source` — status, status text, headers, and `redirected`
 * and `type` where they differ from a constructed Response's — over `body`
 * (or made by `make` from those fields), with `url` as an own,
 * non-enumerable property (a constructed Response's native `url` is "").
 */
export function rebuilt(
  source: Response,
  body: BodyInit | null | ((init: ResponseInit) => Response),
  url: string,
): Response {
  const init = {
    status: source.status,
    statusText: source.statusText,
    headers: source.headers,
  };
  const copy = typeof body === "function"
    ? body(init)
    : new Response(body, init);
  for (const key of ["redirected", "type"] as const) {
    if (copy[key] !== source[key]) defineHidden(copy, key, source[key]);
  }
  defineHidden(copy, "url", url);
  return copy;
}

/** Defines an own, non-enumerable, read-only property. */
export function defineHidden(
  target: object,
  key: string,
  value: unknown,
): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: false,
    writable: false,
    configurable: true,
  });
}
