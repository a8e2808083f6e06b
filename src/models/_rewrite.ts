// Rewriting the top-level `model` of a JSON body in place: the rest of the
// text stays byte for byte as the caller wrote it (numbers JSON.parse would
// round, key order, spacing), and the caller's body is never changed.

/** Whitespace JSON allows between tokens. */
const SPACE = new Set([" ", "\t", "\n", "\r"]);

/** The index after the string that starts at `i` (a `"`). */
function skipString(text: string, i: number): number {
  for (i += 1; i < text.length; i++) {
    const c = text[i];
    if (c === "\\") i += 1;
    else if (c === '"') return i + 1;
  }
  return i;
}

/** The index after the value that starts at `i`. */
function skipValue(text: string, i: number): number {
  const c = text[i];
  if (c === '"') return skipString(text, i);
  if (c === "{" || c === "[") {
    let depth = 0;
    while (i < text.length) {
      const d = text[i];
      if (d === '"') {
        i = skipString(text, i);
        continue;
      }
      if (d === "{" || d === "[") depth += 1;
      else if (d === "}" || d === "]") {
        depth -= 1;
        if (depth === 0) return i + 1;
      }
      i += 1;
    }
    return i;
  }
  while (i < text.length && !SPACE.has(text[i]) && !",}]".includes(text[i])) {
    i += 1;
  }
  return i;
}

function skipSpace(text: string, i: number): number {
  while (SPACE.has(text[i])) i += 1;
  return i;
}

/**
 * Where the value of the top-level `"model"` member of `text` (valid JSON,
 * an object) starts and ends — the last one, as `JSON.parse` keeps the
 * last — or `undefined` when it has none.
 */
export function modelSpan(text: string): [number, number] | undefined {
  let i = skipSpace(text, 0);
  if (text[i] !== "{") return undefined;
  let span: [number, number] | undefined;
  i = skipSpace(text, i + 1);
  while (text[i] === '"') {
    const keyEnd = skipString(text, i);
    const key = JSON.parse(text.slice(i, keyEnd));
    i = skipSpace(text, skipSpace(text, keyEnd) + 1); // past ":"
    const end = skipValue(text, i);
    if (key === "model") span = [i, end];
    i = skipSpace(text, end);
    if (text[i] !== ",") break;
    i = skipSpace(text, i + 1);
  }
  return span;
}

/** `text` with the value at `span` replaced by the JSON string `model`. */
export function withModel(
  text: string,
  span: [number, number],
  model: string,
): string {
  return text.slice(0, span[0]) + JSON.stringify(model) + text.slice(span[1]);
}
