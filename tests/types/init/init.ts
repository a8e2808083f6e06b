// `using` with TypeScript's own `Disposable` (the default lib of target
// esnext), a key that may be missing.

import { createFailover, type Failover } from "ky-failover";

declare const key: string | undefined;

export async function once(): Promise<number> {
  using api = createFailover({
    endpoints: [{
      name: "primary",
      url: "https://api.example.ai/v1",
      apiKey: key,
    }],
  });
  const disposable: Disposable = api;
  const failover: Failover = api;
  api[Symbol.dispose]();
  return (await failover.fetch("models")).status + (disposable ? 0 : 1);
}
