// Retry headers are read strictly (RFC 9110 §10.2.3 for `Retry-After`,
// non-negative decimal ms for OpenAI's `retry-after-ms`): a value outside
// the grammar is ignored, so a 429 benches for `rateLimit.fallbackDelay`
// instead of a guess (`-5` or `2 3` must not mean "retry at once").
// Checked through the public API: a mocked region answers 429 with the
// header, and the `rate-limit` event and status() show the bench.

import { assert, test } from "./_harness.ts";
import { ManualClock } from "./_manual_clock.ts";
import { tieredPool } from "./_pool.ts";
import { mockRegions } from "./_msw_regions.ts";

const NAMES = ["primary", "hk"];
/** The bench for a 429 without a usable header (distinct from any parse). */
const FALLBACK = 7_777;
/** The cap on any asked delay. */
const CAP = 600_000;
/** The clock starts at Thu, 26 Nov 2026 12:00:00 GMT. */
const START = Date.UTC(2026, 10, 26, 12, 0, 0);

interface Case {
  headers: Record<string, string>;
  /** The bench in ms. */
  expected: number;
  /** Clock start, when not START. */
  start?: number;
}

const ra = (value: string, expected: number, start?: number): Case => ({
  headers: { "retry-after": value },
  expected,
  start,
});

const CASES: [string, Case][] = [
  // delay-seconds = 1*DIGIT, surrounding whitespace trimmed.
  ["Retry-After: 0", ra("0", 0)],
  ["Retry-After: 120", ra("120", 120_000)],
  ["Retry-After: '3 ' (trailing space)", ra("3 ", 3_000)],
  ["Retry-After: ' 3' (leading space)", ra(" 3", 3_000)],
  ["Retry-After: huge (capped)", ra("99999999999999999999999", CAP)],
  ["Retry-After: -5 (no sign)", ra("-5", FALLBACK)],
  ["Retry-After: -5000 (no sign)", ra("-5000", FALLBACK)],
  ["Retry-After: +3 (no sign)", ra("+3", FALLBACK)],
  ["Retry-After: 1.5 (no fraction)", ra("1.5", FALLBACK)],
  ["Retry-After: 2 3 (no inner space)", ra("2 3", FALLBACK)],
  ["Retry-After: 1e3 (no exponent)", ra("1e3", FALLBACK)],
  ["Retry-After: 0x10", ra("0x10", FALLBACK)],
  ["Retry-After: 3s", ra("3s", FALLBACK)],
  ["Retry-After: soon", ra("soon", FALLBACK)],
  ["Retry-After: empty", ra("", FALLBACK)],

  // IMF-fixdate, measured against the pool's clock.
  ["IMF-fixdate 30 s ahead", ra("Thu, 26 Nov 2026 12:00:30 GMT", 30_000)],
  [
    "IMF-fixdate with a leap second",
    ra("Thu, 26 Nov 2026 12:00:60 GMT", 60_000),
  ],
  ["IMF-fixdate in the past (0)", ra("Wed, 25 Nov 2026 12:00:00 GMT", 0)],
  ["the RFC's example date (past, 0)", ra("Sun, 06 Nov 1994 08:49:37 GMT", 0)],
  ["a leap day (valid, far ahead)", ra("Tue, 29 Feb 2028 00:00:00 GMT", CAP)],
  ["Feb 30", ra("Sun, 30 Feb 2026 00:00:00 GMT", FALLBACK)],
  ["Feb 29 of a common year", ra("Mon, 29 Feb 2027 00:00:00 GMT", FALLBACK)],
  ["Nov 31", ra("Tue, 31 Nov 2026 12:00:00 GMT", FALLBACK)],
  ["hour 24", ra("Fri, 27 Nov 2026 24:00:00 GMT", FALLBACK)],
  ["minute 60", ra("Thu, 26 Nov 2026 12:60:00 GMT", FALLBACK)],
  ["second 61", ra("Thu, 26 Nov 2026 12:00:61 GMT", FALLBACK)],
  ["an unknown day name", ra("Thx, 26 Nov 2026 12:00:30 GMT", FALLBACK)],
  ["an unknown month name", ra("Thu, 26 Nvm 2026 12:00:30 GMT", FALLBACK)],
  [
    "lower case (HTTP-date is case-sensitive)",
    ra("thu, 26 nov 2026 12:00:30 gmt", FALLBACK),
  ],
  ["a zone other than GMT", ra("Thu, 26 Nov 2026 12:00:30 UTC", FALLBACK)],
  ["an ISO 8601 date", ra("2026-11-26T12:00:30Z", FALLBACK)],

  // Obsolete forms.
  ["RFC 850 date 30 s ahead", ra("Thursday, 26-Nov-26 12:00:30 GMT", 30_000)],
  ["RFC 850 date in the past", ra("Sunday, 06-Nov-94 08:49:37 GMT", 0)],
  [
    "RFC 850 year exactly 50 years ahead stays ahead",
    ra("Thursday, 26-Nov-76 12:00:00 GMT", CAP),
  ],
  [
    "RFC 850 year more than 50 years ahead is in the past",
    ra("Friday, 26-Nov-76 12:00:01 GMT", 0),
  ],
  [
    "RFC 850 with a short day name",
    ra("Thu, 26-Nov-26 12:00:30 GMT", FALLBACK),
  ],
  ["asctime date 30 s ahead", ra("Thu Nov 26 12:00:30 2026", 30_000)],
  [
    "asctime date with a one-digit day",
    ra("Fri Nov  6 12:00:30 2026", 30_000, Date.UTC(2026, 10, 6, 12, 0, 0)),
  ],
  ["asctime date in the past", ra("Sun Nov  6 08:49:37 1994", 0)],
  ["asctime with a bad day", ra("Thu Nov 31 12:00:30 2026", FALLBACK)],

  // retry-after-ms: non-negative decimal ms; wins over Retry-After.
  ["retry-after-ms: 250", {
    headers: { "retry-after-ms": "250" },
    expected: 250,
  }],
  ["retry-after-ms: 12.5", {
    headers: { "retry-after-ms": "12.5" },
    expected: 12.5,
  }],
  ["retry-after-ms: -1", {
    headers: { "retry-after-ms": "-1" },
    expected: FALLBACK,
  }],
  ["retry-after-ms: abc", {
    headers: { "retry-after-ms": "abc" },
    expected: FALLBACK,
  }],
  ["retry-after-ms: 1e3", {
    headers: { "retry-after-ms": "1e3" },
    expected: FALLBACK,
  }],
  [
    "retry-after-ms wins over Retry-After",
    { headers: { "retry-after-ms": "250", "retry-after": "2" }, expected: 250 },
  ],
  [
    "an invalid retry-after-ms falls back to Retry-After",
    {
      headers: { "retry-after-ms": "-1", "retry-after": "2" },
      expected: 2_000,
    },
  ],
];

/** A date `at` 12:00:30 GMT measured from 12:00:00 the same day: 30 s. */
const noon = (y: number, m: number, d: number) => Date.UTC(y, m, d, 12, 0, 0);

// The calendar, exactly: the last day of every month is valid (a 30 s
// bench measured from noon), the day after it is not (Date would roll it
// over into the next month); 29 February only in leap years (÷4, but not
// ÷100 unless ÷400).
const MONTHS: [string, string, number, string][] = [
  // month, day name of its last day, its length, day name of the day after
  ["Jan", "Sat", 31, "Sun"],
  ["Mar", "Tue", 31, "Wed"],
  ["Apr", "Thu", 30, "Fri"],
  ["May", "Sun", 31, "Mon"],
  ["Jun", "Tue", 30, "Wed"],
  ["Jul", "Fri", 31, "Sat"],
  ["Aug", "Mon", 31, "Tue"],
  ["Sep", "Wed", 30, "Thu"],
  ["Oct", "Sat", 31, "Sun"],
  ["Nov", "Mon", 30, "Tue"],
  ["Dec", "Thu", 31, "Fri"],
];
const MONTH_NUMBER: Record<string, number> = {
  Jan: 0,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};

const CALENDAR: [string, Case][] = [
  ...MONTHS.flatMap(([month, day, last, next]): [string, Case][] => [
    [
      `${last} ${month} (its last day)`,
      ra(
        `${day}, ${last} ${month} 2026 12:00:30 GMT`,
        30_000,
        noon(2026, MONTH_NUMBER[month], last),
      ),
    ],
    [
      `${last + 1} ${month} (no such day)`,
      ra(
        `${next}, ${last + 1} ${month} 2026 12:00:30 GMT`,
        FALLBACK,
        noon(2026, MONTH_NUMBER[month], last),
      ),
    ],
  ]),
  [
    "01 Dec (the first day)",
    ra("Tue, 01 Dec 2026 12:00:30 GMT", 30_000, noon(2026, 11, 1)),
  ],
  [
    "00 Dec (no day 0)",
    ra("Mon, 00 Dec 2026 12:00:30 GMT", FALLBACK, noon(2026, 10, 30)),
  ],
  [
    "29 Feb 2024 (leap: ÷4)",
    ra("Thu, 29 Feb 2024 12:00:30 GMT", 30_000, noon(2024, 1, 29)),
  ],
  [
    "29 Feb 2000 (leap: ÷400)",
    ra("Tue, 29 Feb 2000 12:00:30 GMT", 30_000, noon(2000, 1, 29)),
  ],
  [
    "29 Feb 2100 (not leap: ÷100)",
    ra("Mon, 29 Feb 2100 12:00:30 GMT", FALLBACK, noon(2100, 1, 28)),
  ],
  [
    "29 Feb 2100 measured from 1 Mar (no roll-over)",
    ra("Mon, 29 Feb 2100 00:00:30 GMT", FALLBACK, Date.UTC(2100, 2, 1)),
  ],
  [
    "29 Feb 2027 (common year)",
    ra("Mon, 29 Feb 2027 12:00:30 GMT", FALLBACK, noon(2027, 1, 28)),
  ],
  [
    "30 Feb 2028 (a leap year has 29)",
    ra("Wed, 30 Feb 2028 12:00:30 GMT", FALLBACK, noon(2028, 1, 29)),
  ],
  [
    "28 Feb 2100 (its last day)",
    ra("Sun, 28 Feb 2100 12:00:30 GMT", 30_000, noon(2100, 1, 28)),
  ],
  // The largest valid hour, minute and second.
  [
    "23:59:59",
    ra(
      "Thu, 26 Nov 2026 23:59:59 GMT",
      59_000,
      Date.UTC(2026, 10, 26, 23, 59, 0),
    ),
  ],
  [
    "23:00:00",
    ra(
      "Thu, 26 Nov 2026 23:00:00 GMT",
      1_000,
      Date.UTC(2026, 10, 26, 22, 59, 59),
    ),
  ],
  [
    "12:59:00",
    ra(
      "Thu, 26 Nov 2026 12:59:00 GMT",
      1_000,
      Date.UTC(2026, 10, 26, 12, 58, 59),
    ),
  ],
  [
    "asctime 29 Feb 2000",
    ra("Tue Feb 29 12:00:30 2000", 30_000, noon(2000, 1, 29)),
  ],
  [
    "asctime 29 Feb 2100",
    ra("Mon Feb 29 12:00:30 2100", FALLBACK, noon(2100, 1, 28)),
  ],
  // RFC 850's two-digit year, in the century that puts it at most 50 years
  // ahead: seen from 2026, "80" is 1980 (a leap year: 29 Feb is valid, and
  // in the past), not 2080 and not 1979.
  [
    "RFC 850 29-Feb-80 seen from 2026 is 1980",
    ra("Friday, 29-Feb-80 12:00:00 GMT", 0),
  ],
  // Seen from 15 Jan 2090 12:00, "40" is 2140 when that is at most 50
  // years ahead (exactly 50 here), else 2040.
  [
    "RFC 850 15-Jan-40 exactly 50 years ahead of 2090 is 2140",
    ra(
      "Friday, 15-Jan-40 12:00:00 GMT",
      CAP,
      Date.UTC(2090, 0, 15, 12, 0, 0),
    ),
  ],
  [
    "RFC 850 15-Jan-40 1 s past 50 years ahead of 2090 is 2040",
    ra(
      "Sunday, 15-Jan-40 12:00:01 GMT",
      0,
      Date.UTC(2090, 0, 15, 12, 0, 0),
    ),
  ],
  [
    "RFC 850 29-Feb-40 seen from 1 Mar 2090 is 29 Feb 2140 (leap)",
    ra("Monday, 29-Feb-40 12:00:00 GMT", CAP, Date.UTC(2090, 2, 1)),
  ],
];

for (const [label, { headers, expected, start }] of [...CASES, ...CALENDAR]) {
  test(`429 with ${label}: bench ${expected} ms`, async () => {
    const clock = new ManualClock(start ?? START);
    const { api, events } = tieredPool(NAMES, {
      clock,
      rateLimit: { fallbackDelay: FALLBACK, maxDelay: CAP },
    });
    using _ = api;
    using regions = mockRegions(NAMES, clock);
    regions.set("primary", { status: 429, headers });
    const now = clock.now();
    const response = await api.fetch("chat/completions", {
      method: "POST",
      body: "{}",
    });
    const body = (await response.json()) as { region?: string };
    assert.equal(body.region, "hk", "fails over at once");
    const limit = events.find((e) => e.type === "rate-limit");
    assert.ok(limit?.type === "rate-limit", "a rate-limit event");
    assert.equal(limit.delayMs, expected);
    assert.equal(limit.until, now + expected);
    const primary = api.status()[0];
    if (expected > 0) {
      assert.equal(primary.state, "rate-limited");
      assert.equal(primary.availableAt, now + expected);
    } else {
      assert.equal(primary.state, "healthy", "available again at once");
      assert.equal(primary.availableAt, undefined);
    }
  });
}
