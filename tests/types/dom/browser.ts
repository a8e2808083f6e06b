// A browser module: a key that may be missing, no `using` (this lib has no
// `Disposable`), the pool closed by hand.

import { createFailover, type Failover } from "ky-failover";

const stored: string | undefined = globalThis.localStorage?.getItem("key") ??
  undefined;

export const api: Failover = createFailover({
  endpoints: [
    { name: "primary", url: "https://api.example.ai/v1", apiKey: stored },
  ],
});
globalThis.addEventListener?.("pagehide", () => api.close());
