// The README's Node example in a Node 24 project without the dom lib: keys
// from `process.env` (string | undefined), `using` with @types/node's
// `Disposable`, the pool's fetch where Node's own is expected.

import { createFailover } from "ky-failover";

export async function once(): Promise<unknown> {
  using api = createFailover({
    endpoints: [
      {
        name: "primary",
        url: "https://api.example.ai/v1",
        apiKey: process.env.KEY_A,
      },
    ],
  });
  const fetch: typeof globalThis.fetch = api.fetch;
  const disposable: Disposable = api;
  return [disposable, await fetch("https://api.example.ai/v1/models")];
}
