// One deadline for a whole scripted run (a browser test driver): every
// step awaits through `bounded`, so a run that would hang fails with a
// clear error instead; `end()` clears the timer when the run is over.

/** A run's deadline: `bounded(promise)` races it; `end()` clears it. */
export interface RunDeadline {
  /** When the run started (`Date.now()`). */
  readonly started: number;
  /** `promise`, or the run's deadline if that comes first. */
  bounded<T>(promise: Promise<T>): Promise<T>;
  /** The run is over: clears the deadline's timer. */
  end(): void;
}

/** Starts a deadline of `ms` for the run. */
export function runDeadline(ms: number): RunDeadline {
  let expire: (error: Error) => void = () => {};
  const deadline = new Promise<never>((_, reject) => {
    expire = reject;
  });
  deadline.catch(() => {});
  const timer = setTimeout(
    () => expire(new Error(`the run did not finish in ${ms} ms`)),
    ms,
  );
  return {
    started: Date.now(),
    bounded: (promise) => Promise.race([promise, deadline]),
    end: () => clearTimeout(timer),
  };
}
