// Rewriting the top-level `model` of a JSON body in place: the rest of the
// text stays byte for byte as the caller wrote it (numbers JSON.parse would
// round, key order, spacing), and the caller's body is never changed.
//
// The scan walks the top level only; a nested value (the `messages`, the
// bulk of a body) is skipped by jumping from one bracket or quote to the
// next with native regular expressions.

/** A JSON string from its opening quote. */
const STRING = /"[^"\\]*(?:\\.[^"\\]*)*"/y;
/** The next character that opens or closes something. */
const STRUCTURE = /["{}[\]]/g;
/** The rest of a number or literal. */
const SCALAR = /[^\s,}\]]*/y;
/** JSON whitespace. */
const SPACE = /[ \t\n\r]*/y;

/** The index after the match of sticky `pattern` at `i`. */
function past(pattern: RegExp, text: string, i: number): number {
  pattern.lastIndex = i;
  return pattern.test(text) ? pattern.lastIndex : i;
}

/** The index after the object or array that starts at `i`. */
function skipNested(text: string, i: number): number {
  let depth = 0;
  STRUCTURE.lastIndex = i;
  for (let m = STRUCTURE.exec(text); m !== null; m = STRUCTURE.exec(text)) {
    const c = m[0];
    if (c === '"') {
      STRUCTURE.lastIndex = past(STRING, text, m.index);
    } else if (c === "{" || c === "[") {
      depth += 1;
    } else if (--depth === 0) {
      return m.index + 1;
    }
  }
  return text.length;
}

/** The index after the value that starts at `i`. */
function skipValue(text: string, i: number): number {
  const c = text[i];
  if (c === '"') return past(STRING, text, i);
  if (c === "{" || c === "[") return skipNested(text, i);
  return past(SCALAR, text, i);
}

/**
 * Where the value of the top-level `"model"` member of `text` (valid JSON,
 * an object) starts and ends — the last one, as `JSON.parse` keeps the
 * last — or `undefined` when it has none.
 */
export function modelSpan(text: string): [number, number] | undefined {
  let i = past(SPACE, text, 0);
  if (text[i] !== "{") return undefined;
  let span: [number, number] | undefined;
  i = past(SPACE, text, i + 1);
  while (text[i] === '"') {
    const keyEnd = past(STRING, text, i);
    const key = JSON.parse(text.slice(i, keyEnd));
    i = past(SPACE, text, past(SPACE, text, keyEnd) + 1); // past ":"
    const end = skipValue(text, i);
    if (key === "model") span = [i, end];
    i = past(SPACE, text, end);
    if (text[i] !== ",") break;
    i = past(SPACE, text, i + 1);
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
