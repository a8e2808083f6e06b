// The cheapest strategy (`ky-failover/cheapest`): each call goes to the
// endpoint of the best tier where its model costs least (input + output
// price), ties take turns, unpriced endpoints come last, and a call
// without a model is left to round-robin.

import { assert, test } from "./_harness.ts";
import { ManualClock } from "./_manual_clock.ts";
import {
  createPool,
  type EndpointOptions,
  type PoolOptions,
} from "ky-failover/core";
import { cheapest } from "ky-failover/cheapest";
import { models } from "ky-failover/models";

/** One request as the fake network got it. */
interface Sent {
  endpoint: string;
  model: string | undefined;
}

/**
 * A fake network: endpoint `x` lives at https://x.example.ai/v1; every
 * request is recorded, and answered by `answer` (default: 200 naming the
 * endpoint).
 */
function network(
  answer: (sent: Sent) => Response = (sent) =>
    Response.json({ endpoint: sent.endpoint }),
) {
  const sent: Sent[] = [];
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const request = new Request(input, init);
    const endpoint = new URL(request.url).hostname.split(".")[0];
    let model: string | undefined;
    try {
      model = JSON.parse(await request.text()).model;
    } catch {
      model = undefined;
    }
    const entry = { endpoint, model };
    sent.push(entry);
    return answer(entry);
  };
  return { fetch, sent, to: () => sent.map((s) => s.endpoint) };
}

function endpoint(
  name: string,
  extra: Partial<EndpointOptions> = {},
): EndpointOptions {
  return {
    name,
    url: `https://${name}.example.ai/v1`,
    apiKey: `sk-${name}`,
    ...extra,
  };
}

function pool(
  endpoints: EndpointOptions[],
  net: { fetch: typeof fetch },
  extra: Partial<PoolOptions> = {},
) {
  return createPool({
    endpoints,
    clock: new ManualClock(),
    random: () => 0,
    fetch: net.fetch,
    ...extra,
  });
}

/** Sends `n` chat calls for `model` (none: a body without one). */
async function chat(
  api: { fetch: typeof fetch },
  model: string | undefined,
  n = 1,
): Promise<Response> {
  let last!: Response;
  for (let i = 0; i < n; i++) {
    last = await api.fetch("chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(
        model === undefined ? { messages: [] } : { model, messages: [] },
      ),
    });
    if (i < n - 1) await last.body?.cancel();
  }
  return last;
}

test("cheapest: the lowest input + output price wins, a one-number price counting for both", async () => {
  const net = network();
  using api = pool(
    [
      // Ranks: a 0.5 + 9 = 9.5, b 2.6 + 2.6 = 5.2, c 1 + 4 = 5. Input
      // alone would choose a, output alone or a number counted once b.
      endpoint("a", { prices: { m: { input: 0.5, output: 9 } } }),
      endpoint("b", { prices: { m: 2.6 } }),
      endpoint("c", { prices: { m: { input: 1, output: 4 } } }),
    ],
    net,
    { features: [cheapest()] },
  );
  await (await chat(api, "m", 6)).body?.cancel();
  assert.deepEqual(net.to(), ["c", "c", "c", "c", "c", "c"]);
});

test("cheapest: prices given to cheapest() apply to every endpoint that has none of its own for the model", async () => {
  const net = network();
  using api = pool(
    [
      endpoint("a", { prices: { m: 15 } }), // its own: 30
      endpoint("b", { prices: { other: 0.01 } }), // the pool's: 20
      endpoint("c", { prices: { m: { input: 10, output: 15 } } }), // its own: 25
    ],
    net,
    {
      features: [cheapest({ prices: { m: { input: 5, output: 15 } } })],
    },
  );
  await (await chat(api, "m", 3)).body?.cancel();
  assert.deepEqual(net.to(), ["b", "b", "b"]);
});

test("cheapest: an endpoint's own prices come before the pool's", async () => {
  {
    const net = network();
    using api = pool(
      [
        endpoint("a", { prices: { m: 5 } }), // its own: 10
        endpoint("b"), // the pool's: 2
      ],
      net,
      { features: [cheapest({ prices: { m: 1 } })] },
    );
    await (await chat(api, "m", 3)).body?.cancel();
    assert.deepEqual(net.to(), ["b", "b", "b"]);
  }
  {
    const net = network();
    using api = pool(
      [
        endpoint("a"), // the pool's: 2
        endpoint("b", { prices: { m: 0.1 } }), // its own: 0.2
      ],
      net,
      { features: [cheapest({ prices: { m: 1 } })] },
    );
    await (await chat(api, "m", 3)).body?.cancel();
    assert.deepEqual(net.to(), ["b", "b", "b"]);
  }
});

test("cheapest: an endpoint is priced by the model it is sent after a models() rename", async () => {
  const net = network();
  using api = pool(
    [
      endpoint("openai", { models: ["gpt-4.1"] }),
      endpoint("deepseek", { models: { "gpt-4.1": "deepseek-v3.2" } }),
    ],
    net,
    {
      features: [
        models(),
        cheapest({ prices: { "gpt-4.1": 8, "deepseek-v3.2": 0.42 } }),
      ],
    },
  );
  const response = await chat(api, "gpt-4.1", 4);
  assert.deepEqual(await response.json(), { endpoint: "deepseek" });
  // Priced by the asked name, both would cost 8 and take turns.
  assert.deepEqual(net.sent, [
    { endpoint: "deepseek", model: "deepseek-v3.2" },
    { endpoint: "deepseek", model: "deepseek-v3.2" },
    { endpoint: "deepseek", model: "deepseek-v3.2" },
    { endpoint: "deepseek", model: "deepseek-v3.2" },
  ]);
});

test("cheapest: endpoints of equal price take turns, evenly and in order", async () => {
  const net = network();
  using api = pool(
    [
      endpoint("a", { prices: { m: 1 } }),
      endpoint("b", { prices: { m: { input: 0.5, output: 1.5 } } }), // 2, as a
      endpoint("c", { prices: { m: 3 } }),
      endpoint("d", { prices: { m: 1 } }),
    ],
    net,
    { features: [cheapest()] },
  );
  await (await chat(api, "m", 9)).body?.cancel();
  assert.deepEqual(net.to(), ["a", "b", "d", "a", "b", "d", "a", "b", "d"]);
  // Prices equal as written tie, whatever their floating-point sums.
  const fine = network();
  using floats = pool(
    [
      endpoint("a", { prices: { m: { input: 0.1, output: 0.2 } } }),
      endpoint("b", { prices: { m: 0.15 } }),
    ],
    fine,
    { features: [cheapest()] },
  );
  await (await chat(floats, "m", 4)).body?.cancel();
  assert.deepEqual(fine.to(), ["a", "b", "a", "b"]);
});

test("cheapest: the first turn among ties is drawn from the pool's random", async () => {
  const net = network();
  using api = pool(
    [
      endpoint("a", { prices: { m: 1 } }),
      endpoint("b", { prices: { m: 1 } }),
      endpoint("c", { prices: { m: 1 } }),
    ],
    net,
    { features: [cheapest()], random: () => 0.5 },
  );
  await (await chat(api, "m", 4)).body?.cancel();
  assert.deepEqual(net.to(), ["b", "c", "a", "b"]);
});

test("cheapest: endpoints without a price come after every priced one", async () => {
  const net = network();
  using api = pool(
    [
      endpoint("a"),
      endpoint("b", { prices: { m: 1_000 } }),
      endpoint("c", { prices: { other: 0.01 } }),
    ],
    net,
    { features: [cheapest()] },
  );
  await (await chat(api, "m", 3)).body?.cancel();
  assert.deepEqual(net.to(), ["b", "b", "b"]);
  // A model nobody prices: all tie, and take turns.
  await (await chat(api, "unpriced", 6)).body?.cancel();
  assert.deepEqual(net.to().slice(3), ["a", "b", "c", "a", "b", "c"]);
});

test("cheapest: a call falls over to the next cheapest endpoint", async () => {
  const net = network((sent) =>
    sent.endpoint === "a"
      ? new Response("down", { status: 503 })
      : Response.json({ endpoint: sent.endpoint })
  );
  using api = pool(
    [
      endpoint("c", { prices: { m: 3 } }),
      endpoint("b", { prices: { m: 2 } }),
      endpoint("a", { prices: { m: 1 } }),
    ],
    net,
    { features: [cheapest()] },
  );
  const response = await chat(api, "m");
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { endpoint: "b" });
  assert.deepEqual(net.to(), ["a", "b"]);
  assert.equal(api.status()[2].consecutiveFailures, 1);
});

test("cheapest: tiers come before price", async () => {
  const net = network();
  using api = pool(
    [
      endpoint("a", { priority: 1, prices: { m: 10 } }),
      endpoint("b", { priority: 1, prices: { m: 9 } }),
      endpoint("c", { priority: 2, prices: { m: 0.1 } }),
    ],
    net,
    { features: [cheapest()] },
  );
  await (await chat(api, "m", 3)).body?.cancel();
  assert.deepEqual(net.to(), ["b", "b", "b"]);
});

test("cheapest: a call without a model is left to round-robin", async () => {
  const net = network();
  using api = pool(
    [
      endpoint("a", { prices: { m: 3 } }),
      endpoint("b", { prices: { m: 2 } }),
      endpoint("c", { prices: { m: 1 } }),
    ],
    net,
    { features: [cheapest()] },
  );
  await (await chat(api, undefined, 3)).body?.cancel();
  assert.deepEqual(net.to(), ["a", "b", "c"]);
  await (await api.fetch("models")).body?.cancel();
  assert.deepEqual(net.to().slice(3), ["a"]);
  // It is the pool's rotation, not the one of ties: a call whose model
  // nobody prices starts its own turns at a, and the pool's goes on at b.
  await (await chat(api, "unpriced")).body?.cancel();
  await (await chat(api, undefined)).body?.cancel();
  assert.deepEqual(net.to().slice(4), ["a", "b"]);
});

test("cheapest: invalid prices throw a TypeError naming the field", () => {
  const bad: [() => unknown, RegExp][] = [
    [
      () => cheapest({ prices: { m: -1 } }),
      /^ky-failover: options\.prices\["m"\] must be a price in USD per million tokens \(0 to 1000000\), got -1$/,
    ],
    [
      () => cheapest({ prices: "cheap" as never }),
      /^ky-failover: options\.prices must be an object of prices by model name, got "cheap"$/,
    ],
    [
      () => cheapest({ prices: { m: { input: 1 } as never } }),
      /^ky-failover: options\.prices\["m"\]\.output must be a price/,
    ],
    [
      () => cheapest({ price: {} } as never),
      /^ky-failover: cheapest\(\) options\.price is not a known option \(known: prices\)$/,
    ],
    [
      () => cheapest("cheap" as never),
      /^ky-failover: cheapest\(\) options must be an object/,
    ],
    [
      () =>
        createPool({
          endpoints: [
            endpoint("a"),
            endpoint("b", {
              prices: { m: { input: 1, output: "2" as never } },
            }),
          ],
          features: [cheapest()],
        }),
      /^ky-failover: options\.endpoints\[1\]\.prices\["m"\]\.output must be a price in USD per million tokens/,
    ],
    [
      () =>
        createPool({
          endpoints: [endpoint("a", { prices: [1] as never })],
          features: [cheapest()],
        }),
      /^ky-failover: options\.endpoints\[0\]\.prices must be an object of prices by model name, got an array$/,
    ],
  ];
  for (const [make, message] of bad) {
    assert.throws(make, (error: unknown) => {
      assert.ok(error instanceof TypeError, String(error));
      assert.match(error.message, message);
      return true;
    });
  }
});

test("cheapest: an endpoint's prices need a feature that reads them", () => {
  assert.throws(
    () =>
      createPool({
        endpoints: [endpoint("a", { prices: { m: 1 } }), endpoint("b")],
      }),
    (error: unknown) => {
      assert.ok(error instanceof TypeError, String(error));
      assert.match(
        error.message,
        /options\.endpoints\[0\]\.prices needs a feature that reads it: add .*cheapest\(\) from "ky-failover\/cheapest"/,
      );
      return true;
    },
  );
  // With cheapest(), the same endpoints make a pool.
  using api = createPool({
    endpoints: [endpoint("a", { prices: { m: 1 } }), endpoint("b")],
    features: [cheapest()],
  });
  assert.equal(api.status().length, 2);
});

test("cheapest: each group of tied endpoints keeps its own turns, and past 1024 groups every group starts afresh", async () => {
  const names = Array.from({ length: 11 }, (_, i) => `e${i}`);
  // Model g0 ties e0 to e3; each other model g<n> ties another set of
  // two or more endpoints (every other endpoint costs more for it).
  const groups = [0b1111];
  for (let mask = 3; groups.length < 1025; mask++) {
    if (mask !== 0b1111 && (mask & (mask - 1)) !== 0) groups.push(mask);
  }
  const prices = (i: number) =>
    Object.fromEntries(
      groups.map((mask, g) => [`g${g}`, mask >> i & 1 ? 1 : 2]),
    );
  const net = network();
  using api = pool(
    names.map((name, i) => endpoint(name, { prices: prices(i) })),
    net,
    { features: [cheapest()] },
  );
  const call = async (model: string) => {
    await (await chat(api, model)).body?.cancel();
    return net.to().at(-1);
  };
  assert.equal(await call("g0"), "e0");
  assert.equal(await call("g1"), "e0"); // another group: its own first turn
  assert.equal(await call("g0"), "e1"); // g0's turns went on
  for (let g = 2; g < 1024; g++) await call(`g${g}`);
  // 1024 groups remembered: g0 goes on…
  assert.equal(await call("g0"), "e2");
  // …until a 1025th group: then every group starts afresh.
  await call("g1024");
  assert.equal(await call("g0"), "e0");
});
