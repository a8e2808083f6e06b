// A Bun module: keys from `process.env` (string | undefined), `using` with
// bun-types' `Disposable`.

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
  const disposable: Disposable = api;
  return [disposable, await api.ky.get("models").json()];
}
