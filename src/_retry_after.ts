// Reads how long a server asks us to wait: `retry-after-ms` (OpenAI), then
// `Retry-After` as delta-seconds or as an HTTP date.

const SECONDS = /^\s*\d+(?:\.\d+)?\s*$/;

/**
 * Returns the delay the response asks for, in ms, or `undefined` when it
 * carries no usable retry header. HTTP dates are measured against `now`
 * (epoch ms from the pool's clock).
 */
export function retryDelay(headers: Headers, now: number): number | undefined {
  const ms = headers.get("retry-after-ms");
  if (ms !== null && SECONDS.test(ms)) return Number(ms);
  const value = headers.get("retry-after");
  if (value === null) return undefined;
  if (SECONDS.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
