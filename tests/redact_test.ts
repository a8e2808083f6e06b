// What the pool hands out when an endpoint's URL carries a query key,
// branch by branch: the text of a runtime's error (every encoding of the
// key, a whole query with its `?`), the shapes only Node, Bun or browsers
// produce (an undici `cause` chain, Bun's enumerable `path`, an
// AggregateError's `errors`, read-only and accessor properties, text
// inherited from a prototype, frozen errors), the depth and object limits,
// and the `url` of the Response the caller gets. A fake fetch throws (or
// answers) exactly those shapes, so every runtime runs every branch; each
// test asserts the exact text, identity and property descriptors handed out.

import { assert, test } from "./_harness.ts";
import {
  CLEAN,
  data,
  failure,
  handedOut,
  KEY,
  LEAK,
  type Loose,
  OMITTED,
  onePool,
  own,
  rejection,
} from "./_redact_shapes.ts";
import { ManualClock } from "./_manual_clock.ts";
import { createFailover, FailoverError, isFailoverError } from "ky-failover";
import { isHTTPError } from "ky";

// ------------------------------------------------------------------ text

test("a long key in a long message: only the key goes", async () => {
  // A SAS-like key of 4 KiB after 1 MiB of text: a scan that does not move
  // past each match (or past the last) runs out of string length at once.
  const key = `sig${"0123456789abcdef".repeat(256)}`;
  const filler = "x".repeat(1 << 20);
  const error = await failure(() => `${filler} ${key} end`, {
    url: `http://a.test/v1?sas=${key}`,
  });
  assert.equal(error.attempts[0].error, `${filler} [redacted] end`);
});

test("query values of 6 characters or more are secrets, bare tokens too", async () => {
  const error = await failure(() => "12345 abcdef tok_xyz", {
    url: "http://a.test/v1?ver=12345&sig=abcdef&tok_xyz",
  });
  assert.equal(error.attempts[0].error, "12345 [redacted] [redacted]");
});

test("a longer secret is replaced before a shorter one inside it", async () => {
  const error = await failure(() => "key xsecret1x", {
    url: "http://a.test/v1?a=secret1&b=xsecret1x",
  });
  assert.equal(error.attempts[0].error, "key [redacted]");
});

test("a runtime error naming the URL sent loses the endpoint's whole query", async () => {
  const make = (sent: string) =>
    new TypeError(`error sending request for url (${sent})`);
  const plain = await failure(make);
  assert.equal(
    (plain.attempts[0].error as Error).message,
    `error sending request for url (${CLEAN})`,
  );
  assert.equal(
    plain.message,
    `the only attempt failed: a → TypeError: error sending request for url (${CLEAN}) (0 ms)`,
  );
  // The caller's own parameter follows the endpoint's, re-encoded.
  const withLimit = await failure(make, { path: "models?limit=2" });
  assert.equal(
    (withLimit.attempts[0].error as Error).message,
    `error sending request for url (${CLEAN}?limit=2)`,
  );
  // The caller overrides the version: the key is redacted where it stands.
  const versioned = await failure(make, { path: "models?api-version=2" });
  assert.equal(
    (versioned.attempts[0].error as Error).message,
    `error sending request for url (${CLEAN}?api-version=2&api-key=[redacted])`,
  );
});

test("every encoding of the key is redacted; a whole query goes with its ?", async () => {
  const text = `?${KEY} raw ${KEY}, decoded qk/SEC core42, ` +
    "encoded qk%2FSEC%20core42, form qk%2FSEC+core42, " +
    `cut pi-version=1&api-key=${KEY}, twice ${LEAK}&x=1 and ${LEAK}`;
  const error = await failure(() => text);
  const expected = " raw [redacted], decoded [redacted], " +
    "encoded [redacted], form [redacted], " +
    `cut pi-version=1&api-key=[redacted], twice ${CLEAN}?x=1 and ${CLEAN}`;
  assert.equal(error.attempts[0].error, expected, "a thrown string");
  assert.equal(
    error.message,
    `the only attempt failed: a → ${expected} (0 ms)`,
  );
});

test("a thrown null or number is handed out as it is", async () => {
  const nothing = await failure(() => null);
  assert.equal(nothing.attempts[0].error, null);
  assert.equal(nothing.message, "the only attempt failed: a → null (0 ms)");
  const number = await failure(() => 42);
  assert.equal(number.attempts[0].error, 42);
  assert.equal(number.message, "the only attempt failed: a → 42 (0 ms)");
});

// ------------------------------------------------------- errors in place

test("Node's cause chain and Bun's enumerable path are scrubbed in place", async () => {
  const inner = Object.assign(new Error(`connect ECONNREFUSED ${LEAK}`), {
    code: "ECONNREFUSED",
  });
  const undici = new TypeError("fetch failed", { cause: inner });
  const error = await failure(() => undici);
  assert.equal(error.attempts[0].error, undici, "the same error");
  assert.equal(undici.cause, inner, "the same cause");
  assert.equal(inner.message, `connect ECONNREFUSED ${CLEAN}`);
  assert.equal(inner.code, "ECONNREFUSED");
  assert.ok(!String(inner.stack).includes("core42"), "the stack too");
  assert.equal(
    error.message,
    `the only attempt failed: a → TypeError: fetch failed (connect ECONNREFUSED ${CLEAN}) (0 ms)`,
  );

  const bun = Object.assign(
    new TypeError(`Unable to connect: ${LEAK}`),
    { code: "ConnectionRefused", path: LEAK, errno: 0 },
  );
  assert.equal(await handedOut(bun), bun);
  assert.equal(bun.message, `Unable to connect: ${CLEAN}`);
  assert.equal(
    JSON.stringify(bun),
    JSON.stringify({ code: "ConnectionRefused", path: CLEAN, errno: 0 }),
  );
  assert.deepEqual(own(bun, "path"), data(CLEAN, true, true, true));
});

test("a read-only but configurable, or writable but fixed, property is rewritten in place", async () => {
  const thrown = new TypeError("failed");
  Object.defineProperty(thrown, "url", {
    value: LEAK,
    writable: false,
    enumerable: true,
    configurable: true,
  });
  Object.defineProperty(thrown, "href", {
    value: LEAK,
    writable: true,
    enumerable: false,
    configurable: false,
  });
  assert.equal(await handedOut(thrown), thrown);
  assert.deepEqual(own(thrown, "url"), data(CLEAN, false, true, true));
  assert.deepEqual(own(thrown, "href"), data(CLEAN, true, false, false));
});

test("own accessors: through a setter that works, else as a data property", async () => {
  let stored = `at ${LEAK}`;
  const get = () => stored;
  const set = (value: string) => void (stored = value);
  const plain = () => "no key here";
  const broken = () => {
    throw new Error("unreadable");
  };
  const thrown = new TypeError("failed");
  Object.defineProperties(thrown, {
    kept: { get, set, enumerable: true, configurable: true },
    deaf: { get: () => `at ${LEAK}`, set: () => {}, configurable: true },
    plain: { get: plain, enumerable: true, configurable: true },
    broken: { get: broken, configurable: true },
  });
  assert.equal(await handedOut(thrown), thrown, "scrubbed in place");
  assert.equal(stored, `at ${CLEAN}`, "written through the setter");
  assert.deepEqual(own(thrown, "kept"), {
    get,
    set,
    enumerable: true,
    configurable: true,
  });
  assert.deepEqual(own(thrown, "deaf"), data(`at ${CLEAN}`, true, false, true));
  assert.deepEqual(own(thrown, "plain"), {
    get: plain,
    set: undefined,
    enumerable: true,
    configurable: true,
  });
  assert.equal(own(thrown, "broken").get, broken, "an unreadable one stays");
});

test("an AggregateError's errors: items scrubbed, the list kept", async () => {
  const v4 = new Error(`connect ECONNREFUSED 127.0.0.1 ${LEAK}`);
  const v6 = new Error(`connect ECONNREFUSED ::1 ${LEAK}`);
  const thrown = new AggregateError([v4, v6], `connect failed ${LEAK}`);
  const list = thrown.errors;
  assert.equal(await handedOut(thrown), thrown);
  assert.equal(thrown.message, `connect failed ${CLEAN}`);
  assert.equal(thrown.errors, list);
  assert.deepEqual(thrown.errors.map((e: Error) => e.message), [
    `connect ECONNREFUSED 127.0.0.1 ${CLEAN}`,
    `connect ECONNREFUSED ::1 ${CLEAN}`,
  ]);
  assert.equal(thrown.errors[0], v4);

  // Items that must be replaced (a frozen error, a string) are replaced
  // in the list itself.
  const frozen = Object.freeze(new Error(`v4 ${LEAK}`));
  const mixed = new AggregateError([], "connect failed");
  const items: unknown[] = [frozen, `v6 ${LEAK}`];
  mixed.errors = items;
  assert.equal(await handedOut(mixed), mixed);
  assert.equal(mixed.errors, items, "the same list");
  assert.notEqual(items[0], frozen);
  assert.equal((items[0] as Error).message, `v4 ${CLEAN}`);
  assert.equal(Object.getPrototypeOf(items[0]), Error.prototype);
  assert.equal(items[1], `v6 ${CLEAN}`);
});

test("a frozen list is kept when its items scrub in place, else replaced once", async () => {
  const item = new Error(`v4 ${LEAK}`);
  const list = Object.freeze([item]);
  const same = new AggregateError([], "connect failed");
  same.errors = list as unknown[];
  assert.equal(await handedOut(same), same);
  assert.equal(same.errors, list, "nothing to replace in it");
  assert.equal(item.message, `v4 ${CLEAN}`);

  // The same frozen list twice (as errors and as cause): one copy for both.
  const texts = Object.freeze([`v4 ${LEAK}`]);
  const twice = new AggregateError([], "connect failed", { cause: texts });
  twice.errors = texts as unknown[];
  assert.equal(await handedOut(twice), twice);
  assert.notEqual(twice.errors, texts);
  assert.deepEqual(twice.errors, [`v4 ${CLEAN}`]);
  assert.equal(twice.cause, twice.errors, "one replacement for one list");

  // A list whose item cannot be assigned is replaced too.
  const fixed = [`v6 ${LEAK}`];
  Object.defineProperty(fixed, 0, { writable: false });
  const pinned = new AggregateError([], "connect failed");
  pinned.errors = fixed;
  assert.equal(await handedOut(pinned), pinned);
  assert.notEqual(pinned.errors, fixed);
  assert.deepEqual(pinned.errors, [`v6 ${CLEAN}`]);
});

test("causes, errors and errors under any key are scrubbed; other objects are not walked", async () => {
  const walked: string[] = [];
  const watched = (name: string) =>
    new Proxy({ url: "no key" }, {
      ownKeys(target) {
        walked.push(name);
        return Reflect.ownKeys(target);
      },
    });
  const meta = watched("meta");
  const lazy = watched("lazy");
  const cause = { code: "E", url: LEAK };
  const inner = new Error(`inner ${LEAK}`);
  const listed = new Error(`listed ${LEAK}`);
  const thrown = Object.assign(new TypeError("failed", { cause }), {
    errors: [`v4 ${LEAK}`],
    inner,
    attempts: ["first", listed],
    meta,
    count: 3,
  });
  Object.defineProperty(thrown, "lazy", { get: () => lazy });
  assert.equal(await handedOut(thrown), thrown);
  assert.deepEqual(cause, { code: "E", url: CLEAN }, "a plain object cause");
  assert.deepEqual(thrown.errors, [`v4 ${CLEAN}`], "errors without errors");
  assert.equal(inner.message, `inner ${CLEAN}`);
  assert.equal(thrown.attempts[1], listed);
  assert.equal(listed.message, `listed ${CLEAN}`);
  assert.equal(thrown.meta, meta);
  assert.equal(thrown.count, 3);
  assert.deepEqual(walked, [], "no other object is walked");

  const counted = new Error(`code ${LEAK}`, { cause: 7 });
  assert.equal(await handedOut(counted), counted);
  assert.equal(counted.cause, 7);
  assert.equal(counted.message, `code ${CLEAN}`);
});

test("an inherited cause is scrubbed, in place when it can be", async () => {
  const inner = new Error(`connect ${LEAK}`);
  const proto = Object.create(TypeError.prototype, {
    cause: { get: () => inner },
  });
  const thrown = Object.create(proto, {
    message: { value: "fetch failed", writable: true, configurable: true },
  });
  assert.equal(await handedOut(thrown), thrown);
  assert.equal(inner.message, `connect ${CLEAN}`);

  const locked = Object.freeze(new Error(`connect ${LEAK}`));
  const lockedProto = Object.create(TypeError.prototype, {
    cause: { get: () => locked },
  });
  const outer = Object.create(lockedProto, {
    message: { value: "fetch failed", writable: true, configurable: true },
  });
  const handed = await handedOut(outer);
  assert.notEqual(handed, outer, "a copy");
  assert.equal(Object.getPrototypeOf(handed), lockedProto);
  assert.equal(handed.message, "fetch failed");
  const cause = own(handed, "cause");
  assert.equal(cause.enumerable, false);
  assert.notEqual(cause.value, locked);
  assert.equal(cause.value.message, `connect ${CLEAN}`);
  assert.equal(Object.getPrototypeOf(cause.value), Error.prototype);
});

test("an inherited cause that is text with the key: a copy whose cause is scrubbed", async () => {
  const proto = Object.create(TypeError.prototype, {
    cause: { get: () => `connect ${LEAK}` },
  });
  const thrown = Object.create(proto, {
    message: { value: "fetch failed", writable: true, configurable: true },
  });
  const handed = await handedOut(thrown);
  assert.notEqual(handed, thrown, "a copy: the getter would still say it");
  assert.equal(handed.cause, `connect ${CLEAN}`);
  assert.equal(handed.message, "fetch failed");
});

test("cycles through cause and errors end at the error itself", async () => {
  const thrown: Loose = new Error(`loop ${LEAK}`);
  thrown.cause = thrown;
  assert.equal(await handedOut(thrown), thrown);
  assert.equal(thrown.cause, thrown);
  assert.equal(thrown.message, `loop ${CLEAN}`);

  const agg = new AggregateError([], `loop ${LEAK}`);
  agg.errors = [agg];
  assert.equal(await handedOut(agg), agg);
  assert.equal(agg.errors[0], agg);
});

// ------------------------------------------------------------- copies

test("a frozen error or a fixed read-only property: a scrubbed copy", async () => {
  const frozen = Object.freeze(new TypeError(`failed: ${LEAK}`));
  const copy = await handedOut(frozen);
  assert.notEqual(copy, frozen);
  assert.equal(Object.getPrototypeOf(copy), TypeError.prototype);
  assert.deepEqual(
    own(copy, "message"),
    data(`failed: ${CLEAN}`, true, false, true),
  );
  assert.deepEqual(own(copy, "name"), data("TypeError", true, false, true));
  assert.equal(own(copy, "stack").enumerable, false);
  assert.ok(!String(copy.stack).includes("core42"));
  assert.equal(Object.hasOwn(copy, "cause"), false, "no cause: none added");
  assert.equal(JSON.stringify(copy), "{}");

  const inner = new Error(`inner ${LEAK}`);
  const walked: string[] = [];
  const meta = new Proxy({}, {
    ownKeys(target) {
      walked.push("meta");
      return Reflect.ownKeys(target);
    },
  });
  const fixed = Object.defineProperty(
    Object.assign(new TypeError("failed", { cause: inner }), {
      code: "E",
      detail: undefined,
      meta,
    }),
    "url",
    { value: LEAK, enumerable: true },
  );
  const handed = await handedOut(fixed);
  assert.notEqual(handed, fixed);
  assert.deepEqual(own(handed, "url"), data(CLEAN, true, true, true));
  assert.deepEqual(own(handed, "detail"), data(undefined, true, true, true));
  assert.deepEqual(own(handed, "message"), data("failed", true, false, true));
  assert.deepEqual(own(handed, "cause"), data(inner, true, false, true));
  assert.equal(inner.message, `inner ${CLEAN}`);
  assert.deepEqual(own(handed, "meta"), data(meta, true, true, true));
  assert.deepEqual(walked, [], "an object that is not an error is not walked");
  assert.equal(
    JSON.stringify(handed),
    JSON.stringify({ code: "E", meta: {}, url: CLEAN }),
  );
});

test("a property that cannot be rewritten in place: a copy", async () => {
  const getterOnly = new TypeError("failed");
  Object.defineProperty(getterOnly, "url", {
    get: () => LEAK,
    enumerable: true,
  });
  let stored = LEAK;
  const refusing = new TypeError("failed");
  Object.defineProperty(refusing, "url", {
    get: () => stored,
    set: () => {
      throw new TypeError("read-only");
    },
    enumerable: true,
    configurable: true,
  });
  const throwing = new Proxy(new TypeError(`failed: ${LEAK}`), {
    defineProperty() {
      throw new TypeError("no");
    },
  });
  const ignoring = new Proxy(new TypeError(`failed: ${LEAK}`), {
    defineProperty: () => true,
  });
  for (const thrown of [getterOnly, refusing]) {
    const copy = await handedOut(thrown);
    assert.notEqual(copy, thrown);
    assert.deepEqual(own(copy, "url"), data(CLEAN, true, true, true));
  }
  assert.equal(stored, LEAK, "not written");
  stored = "";
  for (const thrown of [throwing, ignoring]) {
    const copy = await handedOut(thrown);
    assert.notEqual(copy, thrown);
    assert.equal(Object.getPrototypeOf(copy), TypeError.prototype);
    assert.deepEqual(
      own(copy, "message"),
      data(`failed: ${CLEAN}`, true, false, true),
    );
  }
});

test("text inherited through getters (a DOMException's message): a copy", async () => {
  const proto = Object.create(TypeError.prototype, {
    message: { get: () => `failed: ${LEAK}`, configurable: true },
    stack: {
      get: () => `TypeError: failed: ${LEAK}\n    at fetch`,
      configurable: true,
    },
    cause: { get: () => undefined, configurable: true },
  });
  const thrown = Object.create(proto);
  const copy = await handedOut(thrown);
  assert.notEqual(copy, thrown);
  assert.equal(Object.getPrototypeOf(copy), proto);
  assert.deepEqual(Reflect.ownKeys(copy), ["name", "message", "stack"]);
  assert.deepEqual(own(copy, "name"), data("TypeError", true, false, true));
  assert.deepEqual(
    own(copy, "message"),
    data(`failed: ${CLEAN}`, true, false, true),
  );
  assert.deepEqual(
    own(copy, "stack"),
    data(`TypeError: failed: ${CLEAN}\n    at fetch`, true, false, true),
  );

  const clean = Object.create(Object.create(TypeError.prototype, {
    message: { get: () => "failed", configurable: true },
    stack: { get: () => "TypeError: failed", configurable: true },
  }));
  assert.equal(await handedOut(clean), clean, "nothing to hide: kept");
  assert.deepEqual(Reflect.ownKeys(clean), []);
});

// --------------------------------------------------------------- limits

/** `count` errors, each the `cause` of the one before, messages with the key. */
function chain(count: number, link: "own" | "accessor" | "inherited"): Loose[] {
  const errors: Loose[] = [];
  for (let i = count - 1; i >= 0; i--) {
    const next = errors[0];
    const message = `level ${i} ${LEAK}`;
    let error: Loose;
    if (link === "inherited") {
      const proto = Object.create(Error.prototype, {
        cause: { get: () => next },
      });
      error = Object.create(proto, {
        message: { value: message, writable: true, configurable: true },
      });
    } else if (link === "accessor" && next !== undefined) {
      error = new Error(message);
      Object.defineProperty(error, "cause", {
        get: () => next,
        configurable: true,
      });
    } else {
      error = new Error(message, next && { cause: next });
    }
    errors.unshift(error);
  }
  return errors;
}

test("a cause chain deeper than 8 ends in a placeholder (own causes: in place)", async () => {
  const errors = chain(11, "own");
  assert.equal(await handedOut(errors[0]), errors[0]);
  for (let i = 0; i <= 8; i++) {
    assert.equal(errors[i].message, `level ${i} ${CLEAN}`);
  }
  for (let i = 0; i < 8; i++) assert.equal(errors[i].cause, errors[i + 1]);
  const placeholder = errors[8].cause;
  assert.equal(Object.getPrototypeOf(placeholder), Error.prototype);
  assert.equal(placeholder.message, OMITTED);
});

for (const link of ["accessor", "inherited"] as const) {
  test(`a cause chain deeper than 8 ends in a placeholder (${link} causes: copies)`, async () => {
    const errors = chain(11, link);
    let handed = await handedOut(errors[0]);
    for (let i = 0; i <= 8; i++) {
      assert.notEqual(handed, errors[i], `level ${i} is a copy`);
      assert.equal(handed.message, `level ${i} ${CLEAN}`);
      const cause = own(handed, "cause");
      assert.equal(cause.writable, true);
      handed = cause.value;
    }
    assert.equal(handed.message, OMITTED);
    assert.equal(Object.hasOwn(handed, "cause"), false);
  });
}

test("a copy at depth 7 reads a getter's new error, scrubbed at depth 8", async () => {
  // The getter makes a new error on each read: the copy holds the one it
  // read itself, which is still within the limit.
  const errors = chain(7, "own");
  const last = new Error(`level 7 ${LEAK}`);
  Object.defineProperty(last, "cause", {
    get: () => new Error(`fresh ${LEAK}`),
  });
  errors[6].cause = Object.freeze(last);
  assert.equal(await handedOut(errors[0]), errors[0]);
  const copy = errors[6].cause;
  assert.notEqual(copy, last);
  assert.equal(copy.message, `level 7 ${CLEAN}`);
  assert.equal(copy.cause.message, `fresh ${CLEAN}`);
});

test("errors nested deeper than 8 (a list counts as a level) end in a placeholder", async () => {
  const errors: AggregateError[] = [];
  for (let i = 9; i >= 0; i--) {
    errors.unshift(
      new AggregateError(errors.slice(0, 1), `level ${i} ${LEAK}`),
    );
  }
  assert.equal(await handedOut(errors[0]), errors[0]);
  for (let i = 0; i < 4; i++) {
    assert.equal(errors[i].message, `level ${i} ${CLEAN}`);
    assert.equal(errors[i].errors[0], errors[i + 1]);
  }
  assert.equal(errors[4].message, `level 4 ${CLEAN}`);
  assert.equal(errors[4].errors.length, undefined, "the list itself replaced");
  assert.equal((errors[4].errors as unknown as Error).message, OMITTED);
});

test("past 64 objects, the rest of an error is a placeholder", async () => {
  const items = Array.from({ length: 70 }, (_, i) => new Error(`e${i}`));
  const thrown = new AggregateError(items, `connect ${LEAK}`);
  const list = thrown.errors;
  assert.equal(await handedOut(thrown), thrown);
  assert.equal(thrown.errors, list);
  assert.equal(list.length, 70);
  // The error and its list are 2 objects: items 0 … 61 make 64.
  for (let i = 0; i < 62; i++) assert.equal(list[i], items[i], `item ${i}`);
  for (let i = 62; i < 70; i++) {
    assert.notEqual(list[i], items[i]);
    assert.equal(list[i].message, OMITTED, `item ${i}`);
  }
});

// ------------------------------------------------------------ responses

/**
 * A Response with an own `url`, as fetch's own responses have one. No
 * body: a body the pool reads whole is put in a Response of its own.
 */
function answered(
  url: string,
  status = 200,
  extra: Record<string, unknown> = {},
): Response {
  const response = status === 0
    ? Response.error()
    : new Response(null, { status });
  for (const [key, value] of Object.entries({ url, ...extra })) {
    Object.defineProperty(response, key, { value, configurable: true });
  }
  return response;
}

/** The response the pool hands out for `fetched`, and the fetched one. */
async function through(fetched: Response, url?: string) {
  using api = onePool(() => Promise.resolve(fetched), url);
  return await api.fetch("models");
}

test("the response's url loses exactly the endpoint's pairs", async () => {
  const cases: [string, string][] = [
    [LEAK, CLEAN],
    [CLEAN, CLEAN],
    [
      `${CLEAN}?api-version=1&api-key=qk%2FSEC+core42&page=3#top`,
      `${CLEAN}?page=3#top`,
    ],
    [
      `${CLEAN}?page=3&api-key=qk%2FSEC%20core42&&api-version=2&&api-version=1`,
      `${CLEAN}?page=3&api-version=2`,
    ],
    [`${CLEAN}?#frag`, `${CLEAN}#frag`],
  ];
  for (const [url, expected] of cases) {
    const fetched = answered(url);
    const response = await through(fetched);
    assert.notEqual(response, fetched, "a new Response");
    assert.deepEqual(own(response, "url"), data(expected, false, false, true));
    assert.equal(Object.hasOwn(response, "redirected"), false);
    assert.equal(Object.hasOwn(response, "type"), false);
  }
});

test("a pair configured twice is removed twice, a third stays", async () => {
  const fetched = answered(
    `${CLEAN}?tag=a&k=secret1&tag=a&tag=a&page=3&k=secret1`,
  );
  const response = await through(
    fetched,
    "http://a.test/v1?tag=a&tag=a&k=secret1",
  );
  assert.equal(response.url, `${CLEAN}?tag=a&page=3&k=secret1`);
});

test("redirected and type are kept; statuses 200 and 599 are rebuilt, 0 is not", async () => {
  const moved = answered(LEAK, 200, { redirected: true, type: "cors" });
  const response = await through(moved);
  assert.notEqual(response, moved);
  assert.deepEqual(own(response, "redirected"), data(true, false, false, true));
  assert.deepEqual(own(response, "type"), data("cors", false, false, true));
  assert.equal(response.url, CLEAN);

  const edge = answered(LEAK, 599);
  const last = await through(edge);
  assert.notEqual(last, edge);
  assert.equal(last.status, 599);
  assert.equal(last.url, CLEAN);

  const opaque = answered(`${LEAK}&x=1`, 0);
  const same = await through(opaque);
  assert.equal(same, opaque, "a status no Response can be built with");
  assert.deepEqual(own(same, "url"), data(`${CLEAN}?x=1`, false, false, true));
});

test("a status that never has a body gets no stream watch", async () => {
  for (const status of [204, 205, 304]) {
    const fetched = new Response(null, { status });
    using api = onePool(() => Promise.resolve(fetched), "http://a.test/v1");
    const response = await api.fetch("models");
    assert.equal(response, fetched);
    assert.equal(
      Object.getPrototypeOf(response),
      Response.prototype,
      `${status}`,
    );
  }
});

// ------------------------------------------------------------- messages

test("a FailoverError's message: no attempt, one attempt, several", () => {
  assert.equal(
    new FailoverError([]).message,
    "all 0 attempts failed; no request was sent",
  );
  assert.equal(
    new FailoverError([{ endpoint: "a", status: 503, durationMs: 12.4 }])
      .message,
    "the only attempt failed: a → HTTP 503 (12 ms)",
  );
  assert.equal(
    new FailoverError([
      { endpoint: "a", error: new TypeError("x"), durationMs: 1 },
      { endpoint: "b", error: "down", durationMs: 2.5 },
    ]).message,
    "all 2 attempts failed: a → TypeError: x (1 ms); b → down (3 ms)",
  );
});

// ------------------------------------------------------------------- ky

test("ky's HTTPError names its own URL without the key when the response has none", async () => {
  // A constructed Response has url "": ky's message keeps its request URL.
  using api = onePool(
    () => Promise.resolve(new Response("no", { status: 400 })),
    "http://a.test/v1?k=v",
  );
  const error = await rejection(api.ky.get("models?k=v"));
  assert.ok(isHTTPError(error));
  assert.equal(
    error.message,
    "Request failed with status code 400: GET http://a.test/v1/models",
  );
});

test("ky's HTTPError names the URL that answered, without the key", async () => {
  using api = onePool(() =>
    Promise.resolve(answered(`http://a.test/v1/other?api-key=${KEY}`, 404))
  );
  const error = await rejection(api.ky.get("models"));
  assert.ok(isHTTPError(error));
  assert.equal(
    error.message,
    "Request failed with status code 404: GET http://a.test/v1/other",
  );
});

test("ky's HTTPError: a longer key of another endpoint goes before a shorter one", async () => {
  const fetch = () => Promise.resolve(new Response("no", { status: 400 }));
  using api = createFailover({
    endpoints: [
      { name: "a", url: "http://a.test/v1?k=secret1" },
      { name: "b", url: "http://b.test/v1?k=xsecret1x" },
    ],
    clock: new ManualClock(),
    fetch,
  });
  const error = await rejection(api.ky.get("models?k=xsecret1x"));
  assert.ok(isHTTPError(error));
  assert.equal(
    error.message,
    "Request failed with status code 400: GET http://a.test/v1/models",
  );
});

test("ky does not retry: the pool owns attempts", async () => {
  let calls = 0;
  using api = onePool(() => {
    calls++;
    return Promise.resolve(new Response(null, { status: 503 }));
  }, "http://a.test/v1");
  const error = await rejection(api.ky.get("models"));
  assert.ok(isFailoverError(error));
  assert.equal(calls, 1);
});

test("ky: an absolute URL keeps method and body; a form keeps its boundary", async () => {
  const seen: string[] = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const type = request.headers.get("content-type") ?? "";
    const body = type.startsWith("multipart/form-data")
      ? String((await request.formData()).get("field"))
      : await request.text();
    seen.push(`${request.method} ${request.url} ${body}`);
    return new Response("{}");
  };
  using api = onePool(fetch as typeof globalThis.fetch, "http://a.test/v1");
  await (await api.ky.post("http://a.test/v1/chat", { json: { a: 1 } })).text();
  const form = new FormData();
  form.set("field", "value");
  await (await api.ky.post("upload", { body: form })).text();
  assert.deepEqual(seen, [
    'POST http://a.test/v1/chat {"a":1}',
    "POST http://a.test/v1/upload value",
  ]);
});
