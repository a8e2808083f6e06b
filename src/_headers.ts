// Caller headers as a plain record by lower-case name: checked as
// `new Headers()` checks them, credentials dropped.

/**
 * Credential headers a caller (or an SDK) may set. The pool owns
 * credentials, so these are dropped: a key given to an SDK never leaves for
 * another provider, and each endpoint gets only its own.
 */
const CREDENTIAL_HEADERS = [
  "authorization",
  "api-key",
  "x-api-key",
  "x-goog-api-key",
];

/** A header name: an HTTP token. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** What no header value may hold (the checks `new Headers()` makes). */
const BAD_VALUE = /[\0\r\n\u0100-\uffff]/;

/** Leading and trailing HTTP whitespace, which `Headers` strips. */
const EDGE_SPACE = /^[\t ]+|[\t ]+$/g;

/** Caller headers by lower-case name, as `fetch` takes a record. */
export type HeaderRecord = Record<string, string>;

/** Sets `record[name]`, even for a header called `__proto__`. */
export function setHeader(
  record: HeaderRecord,
  name: string,
  value: string,
): void {
  if (name === "__proto__") {
    Object.defineProperty(record, name, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else record[name] = value;
}

/**
 * The caller's headers as a record by lower-case name, credentials
 * dropped, checked as `new Headers()` would check them — so a bad header is
 * the caller's TypeError, never mistaken for a failing endpoint — and a
 * repeated name combined with `", "` as `Headers` combines it. A plain
 * record, not a `Headers`: `fetch` converts it once, as it converts the
 * caller's own headers when there is no pool in between (and a record is
 * what every runtime converts fastest).
 */
export function headerRecord(init: HeadersInit | undefined): HeaderRecord {
  const record: HeaderRecord = {};
  const add = (name: string, value: unknown) => {
    const text = String(value);
    if (!TOKEN.test(name) || BAD_VALUE.test(text)) {
      throw new TypeError(
        `ky-failover: invalid header ${JSON.stringify(name)} (or its value)`,
      );
    }
    const lower = name.toLowerCase();
    if (CREDENTIAL_HEADERS.includes(lower)) return;
    const previous = Object.hasOwn(record, lower) ? record[lower] : undefined;
    setHeader(
      record,
      lower,
      previous === undefined
        ? text
        : `${previous.replace(EDGE_SPACE, "")}, ${
          text.replace(EDGE_SPACE, "")
        }`,
    );
  };
  if (init === undefined || init === null) return record;
  if (typeof Headers !== "undefined" && init instanceof Headers) {
    init.forEach((value, name) => add(name, value));
  } else if (Symbol.iterator in init) {
    for (const pair of init as Iterable<string[]>) {
      if (pair.length !== 2) {
        throw new TypeError(
          "ky-failover: a header list entry must be a [name, value] pair",
        );
      }
      add(pair[0], pair[1]);
    }
  } else {
    const given = init as Record<string, string>;
    for (const name of Object.keys(given)) add(name, given[name]);
  }
  return record;
}
