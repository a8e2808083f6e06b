// Reads how long a server asks us to wait: `retry-after-ms` (OpenAI), then
// `Retry-After` (RFC 9110 §10.2.3) as delay-seconds or as an HTTP-date.
// Parsing is strict: a value that does not follow the grammar yields
// `undefined`, so the caller falls back to `rateLimit.fallbackDelay` instead
// of guessing (the lenient `Date.parse` read `-5` as the year -5, a date
// long past, and so as "retry at once").

/** `retry-after-ms`: non-negative decimal milliseconds. */
const MILLISECONDS = /^\d+(?:\.\d+)?$/;
/** delay-seconds = 1*DIGIT (no sign, no fraction, no inner spaces). */
const SECONDS = /^\d+$/;

const DAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)";
const DAY_LONG = "(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)";
const MONTHS = [
  "Jan",
  "Feb",
  "Mar",
  "Apr",
  "May",
  "Jun",
  "Jul",
  "Aug",
  "Sep",
  "Oct",
  "Nov",
  "Dec",
];
const MONTH = `(${MONTHS.join("|")})`;
const TIME = "(\\d\\d):(\\d\\d):(\\d\\d)";

// RFC 9110 §5.6.7. HTTP-date is case-sensitive; the day name is checked
// against the list but not against the date (a wrong weekday is the
// sender's slip, the date itself is still meant).
/** IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`. */
const IMF_FIXDATE = new RegExp(
  `^${DAY}, (\\d\\d) ${MONTH} (\\d{4}) ${TIME} GMT$`,
);
/** Obsolete RFC 850 date: `Sunday, 06-Nov-94 08:49:37 GMT`. */
const RFC850_DATE = new RegExp(
  `^${DAY_LONG}, (\\d\\d)-${MONTH}-(\\d\\d) ${TIME} GMT$`,
);
/** Obsolete asctime date: `Sun Nov  6 08:49:37 1994`. */
const ASCTIME_DATE = new RegExp(
  `^${DAY} ${MONTH} (\\d\\d| \\d) ${TIME} (\\d{4})$`,
);

/** Strips optional whitespace (SP / HTAB) around a field value. */
function trimOws(value: string): string {
  return value.replace(/^[ \t]+|[ \t]+$/g, "");
}

/** Days in `month` (0-based) of `year`: the calendar's own rule, leap years included. */
function daysInMonth(year: number, month: number): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month + 1, 0); // day 0: the last day of `month`
  return date.getUTCDate();
}

/** Epoch ms of a UTC date and time, taking years 0-99 literally. */
function timestamp(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
): number {
  // Date.UTC would read years 0-99 as 1900-1999; setUTCFullYear does not.
  const date = new Date(0);
  date.setUTCFullYear(year, month, day);
  date.setUTCHours(hour, minute, second, 0);
  return date.getTime();
}

/** Epoch ms of a validated UTC date, or `undefined` when out of range. */
function utc(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
): number | undefined {
  if (day < 1 || day > daysInMonth(year, month)) return undefined;
  // second 60 is a leap second (RFC 9110 allows it); Date rolls it over.
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  return timestamp(year, month, day, hour, minute, second);
}

/**
 * The full year of a two-digit RFC 850 year, per RFC 9110 §5.6.7: a
 * timestamp that appears to be more than 50 years in the future is in the
 * most recent past year with the same last two digits. (Symmetrically, one
 * 50 years or more in the past moves a century forward, so that the rule
 * holds in any century.)
 */
function rfc850Year(
  twoDigits: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  now: number,
): number {
  const current = new Date(now).getUTCFullYear();
  const limit = new Date(now);
  limit.setUTCFullYear(current + 50);
  const at = (year: number) =>
    timestamp(year, month, day, hour, minute, second);
  let year = current - (current % 100) + twoDigits;
  if (at(year) > limit.getTime()) year -= 100;
  else if (at(year + 100) <= limit.getTime()) year += 100;
  return year;
}

/** Epoch ms of an HTTP-date in any of its three forms, else `undefined`. */
function httpDate(value: string, now: number): number | undefined {
  let match = IMF_FIXDATE.exec(value);
  if (match !== null) {
    const [, day, month, year, h, m, s] = match;
    return utc(+year, MONTHS.indexOf(month), +day, +h, +m, +s);
  }
  match = RFC850_DATE.exec(value);
  if (match !== null) {
    const [, day, name, yy, h, m, s] = match;
    const month = MONTHS.indexOf(name);
    const year = rfc850Year(+yy, month, +day, +h, +m, +s, now);
    return utc(year, month, +day, +h, +m, +s);
  }
  match = ASCTIME_DATE.exec(value);
  if (match !== null) {
    const [, month, day, h, m, s, year] = match;
    return utc(+year, MONTHS.indexOf(month), +day, +h, +m, +s);
  }
  return undefined;
}

/**
 * Returns the delay the response asks for, in ms, or `undefined` when it
 * carries no usable retry header. `retry-after-ms` wins when valid; an
 * invalid one is ignored in favour of `Retry-After`. HTTP dates are
 * measured against `now` (epoch ms from the pool's clock); a date in the
 * past means 0.
 */
export function retryDelay(headers: Headers, now: number): number | undefined {
  const ms = headers.get("retry-after-ms");
  if (ms !== null) {
    const value = trimOws(ms);
    if (MILLISECONDS.test(value)) return Number(value);
  }
  const header = headers.get("retry-after");
  if (header === null) return undefined;
  const value = trimOws(header);
  if (SECONDS.test(value)) return Number(value) * 1000;
  const date = httpDate(value, now);
  return date === undefined ? undefined : Math.max(0, date - now);
}
