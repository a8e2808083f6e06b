// What an answer means: the one table of status rules, read by the attempt
// that settles, the buffer step that decides what may be returned, and the
// health probe.
//
// | result | call | endpoint health |
// |---|---|---|
// | 2xx, 3xx | return it | success |
// | other 4xx (400, 404, 409, 413, 422 …) | return it at once | success (it answered) |
// | 401, 403 from an endpoint with its own credentials | fail over; bench it as "unauthorized" | neutral |
// | 401, 403 otherwise, or with `authFailure: false` | return it at once | success |
// | 429 | fail over at once; bench it until Retry-After (capped) | neutral |
// | 408, 5xx | fail over | failure |
// | network error, per-attempt timeout | fail over | failure |
// | caller abort, total timeout, pool closed, hedge lost | stop | neutral |
//
// `x-should-retry: true` turns a "return it" into a failover;
// `x-should-retry: false` turns a failover into "return it".
//
// A health probe passes on 2xx only; a 429 benches without counting; any
// other answer or error is a failure.

import type { Health, Verdict } from "./types.ts";

/** How an answer counts for the call and for its endpoint. */
export interface Judgement {
  verdict: Verdict;
  health: Health;
  /** A 401 / 403 rejecting the endpoint's own credentials. */
  unauthorized: boolean;
}

/**
 * Judges an answer of `status` with `headers`. `ownCredentials`: the
 * endpoint sends credentials of its own and auth failures are on, so a
 * 401 / 403 says its key is at fault.
 */
export function judgeAnswer(
  status: number,
  headers: Headers,
  ownCredentials: boolean,
): Judgement {
  let verdict: Verdict;
  let health: Health;
  let unauthorized = false;
  if (status === 429) {
    verdict = "failover";
    health = "neutral";
  } else if (status === 408 || status >= 500) {
    verdict = "failover";
    health = "failure";
  } else if ((status === 401 || status === 403) && ownCredentials) {
    verdict = "failover";
    health = "neutral";
    unauthorized = true;
  } else {
    verdict = status >= 400 ? "final" : "success";
    health = "success";
  }
  // The hint only changes 4xx / 5xx verdicts: a 2xx is never failed over,
  // so its headers are not even looked at.
  if (status >= 400) {
    const hint = headers.get("x-should-retry");
    if (hint === "true" && verdict === "final") verdict = "failover";
    if (hint === "false" && verdict === "failover") verdict = "final";
  }
  return { verdict, health, unauthorized };
}

/** Judges an attempt that got no answer; `stopped`: aborted, not failed. */
export function judgeError(stopped: boolean): Judgement {
  return stopped
    ? { verdict: "aborted", health: "neutral", unauthorized: false }
    : { verdict: "failover", health: "failure", unauthorized: false };
}

/** A health probe's health: 2xx passes, 429 only benches, all else fails. */
export function judgeProbe(status: number | undefined): Health {
  if (status === undefined) return "failure";
  if (status >= 200 && status < 300) return "success";
  return status === 429 ? "neutral" : "failure";
}
