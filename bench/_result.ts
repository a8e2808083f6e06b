/**
 * What bench/failover_bench.ts writes per runtime (`--out`) and
 * bench/_table.ts reads back to build the combined table.
 *
 * @module
 */

/** One reported figure: a row of the final table. */
export interface Figure {
  /** Stable id, the row key across runtimes. */
  id: string;
  /** Row label in the table. */
  row: string;
  /** Cell text (marks included). */
  value: string;
  /** The issue 5 target, or what the row is (an anchor, information). */
  target: string;
  /** `true` met, `false` missed, `undefined` when the row has no target. */
  met?: boolean;
  /** Raw numbers behind the cell. */
  data?: Record<string, unknown>;
}

/** One runtime's run. */
export interface Result {
  runtime: string;
  version: string;
  date: string;
  quick: boolean;
  cpu: string;
  memoryCalls: number;
  figures: Figure[];
}
