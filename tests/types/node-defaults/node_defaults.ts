// The README's Node example: keys from `process.env` (string | undefined),
// and `using` with @types/node's `Disposable`.

import { createFailover } from "ky-failover";

export async function once(): Promise<unknown> {
  using api = createFailover({
    endpoints: [
      {
        name: "primary",
        url: "https://api.example.ai/v1",
        apiKey: process.env.KEY_A,
      },
      {
        name: "hk",
        url: "https://hk.example.ai/v1",
        apiKey: process.env.KEY_B,
      },
    ],
  });
  const disposable: Disposable = api;
  return [disposable, await api.ky.get("models").json()];
}
