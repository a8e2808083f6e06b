// A bound on anything a test waits for: a rule that breaks fails the test
// with a message, instead of leaving it waiting forever.

/** Runs `fn`, failing if it has not settled within `ms`; clears its timer. */
export async function bounded<T>(
  what: string,
  ms: number,
  fn: () => T | Promise<T>,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not finish within ${ms} ms (hung)`)),
      ms,
    );
  });
  try {
    return await Promise.race([Promise.resolve().then(fn), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
