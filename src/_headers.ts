// Caller headers as a plain record by lower-case name, credentials
// dropped.

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
 * dropped. Read through the runtime's own `Headers`, so a bad header is
 * the caller's TypeError, as it is without a pool, and never mistaken for
 * a failing endpoint; a repeated name is combined as `Headers` combines it.
 * A plain record, so that each attempt's `fetch` gets what it converts
 * fastest.
 */
export function headerRecord(init: HeadersInit | undefined): HeaderRecord {
  let headers: Headers;
  try {
    headers = new Headers(init);
  } catch {
    throw namingTheBadOne(init!);
  }
  const record: HeaderRecord = {};
  headers.forEach((value, name) => {
    if (!CREDENTIAL_HEADERS.includes(name)) setHeader(record, name, value);
  });
  return record;
}

/**
 * A TypeError for headers the runtime rejected, naming the first bad one.
 * Not the runtime's own error, not even as a `cause`: some runtimes quote
 * the value, which may be a secret.
 */
function namingTheBadOne(init: HeadersInit): TypeError {
  const entries = Symbol.iterator in init
    ? [...init as Iterable<string[]>]
    : Object.entries(init);
  for (const entry of entries) {
    try {
      new Headers([entry as [string, string]]);
    } catch {
      return new TypeError(
        `ky-failover: invalid header ${
          JSON.stringify(String(entry[0]))
        } (or its value)`,
      );
    }
  }
  return new TypeError("ky-failover: invalid headers");
}
