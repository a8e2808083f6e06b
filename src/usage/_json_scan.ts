// Reading `usage` and `model` from a JSON body as it arrives, chunk by
// chunk, without keeping the body: a scanner that follows the nesting of
// the text and keeps only the raw text of those two top-level members (an
// embeddings answer of many MB costs one pass and a few hundred bytes).

import { type Reading, readingOf } from "./_tokens.ts";

/** What the scanner stops at outside strings, at the top level. */
const TOP = /["{}[\],]/g;
/** What it stops at deeper down (commas there do not matter). */
const NESTED = /["{}[\]]/g;
/** What ends, or escapes inside, a string. */
const STRING_STOP = /["\\]/g;
/** Anything but JSON whitespace. */
const NOT_SPACE = /[^ \t\n\r]/;
/** The members kept, by name. */
const WANTED = new Set(["usage", "model"]);
/** Longest key compared against {@linkcode WANTED}. */
const KEY_LIMIT = 16;
/** Longest member value kept (a `usage` is a few hundred bytes). */
const VALUE_LIMIT = 65_536;

/** A scan of one body. */
export interface JsonScan {
  /** Whether the body is known not to be a JSON object: skip the rest. */
  readonly dead: boolean;
  /** The next text of the body. */
  push(text: string): void;
  /** The body ended: what it said, or `undefined` when it was no JSON object. */
  end(): Reading | undefined;
}

/** A scan of a body that may be a JSON object. */
export function jsonScan(): JsonScan {
  let phase: "start" | "object" | "after" | "dead" = "start";
  let depth = 0;
  let inString = false;
  /** A `\` ended the last text inside a string. */
  let escaped = false;
  /** At depth 1, the next string is a key. */
  let atKey = false;
  let inKey = false;
  let key = "";
  /** The wanted member whose value is being kept. */
  let target: string | undefined;
  /** Its text so far, from after its key (colon included). */
  let value = "";
  const found = new Map<string, string>();

  /** A top-level member's value ended at `at` of `text`, kept from `from`. */
  function endMember(text: string, from: number, at: number): void {
    if (target === undefined) return;
    found.set(target, value + text.slice(from, at));
    target = undefined;
  }

  function push(text: string): void {
    if (phase === "dead") return;
    if (phase === "after") {
      if (NOT_SPACE.test(text)) phase = "dead";
      return;
    }
    let i = 0;
    if (phase === "start") {
      const start = NOT_SPACE.exec(text);
      if (start === null) return;
      if (text[start.index] !== "{") {
        phase = "dead";
        return;
      }
      phase = "object";
      depth = 1;
      atKey = true;
      i = start.index + 1;
    }
    /** Where this text's part of the key, or the kept value, starts. */
    let from = 0;
    while (i < text.length) {
      if (inString) {
        if (escaped) {
          escaped = false;
          i += 1;
          continue;
        }
        STRING_STOP.lastIndex = i;
        const stop = STRING_STOP.exec(text);
        if (stop === null) break;
        if (stop[0] === "\\") {
          if (stop.index + 1 < text.length) i = stop.index + 2;
          else {
            escaped = true;
            i = text.length;
          }
          continue;
        }
        inString = false;
        i = stop.index + 1;
        if (inKey) {
          inKey = false;
          key += text.slice(from, Math.min(stop.index, from + KEY_LIMIT));
          if (WANTED.has(key)) {
            target = key;
            value = "";
            from = i;
          }
        }
        continue;
      }
      const structure = depth === 1 ? TOP : NESTED;
      structure.lastIndex = i;
      const stop = structure.exec(text);
      if (stop === null) break;
      const at = stop.index;
      i = at + 1;
      switch (stop[0]) {
        case '"':
          inString = true;
          if (depth === 1 && atKey) {
            atKey = false;
            inKey = true;
            key = "";
            from = i;
          }
          break;
        case "{":
        case "[":
          depth += 1;
          break;
        case ",":
          if (depth === 1) {
            endMember(text, from, at);
            atKey = true;
          }
          break;
        default: // "}" or "]"
          depth -= 1;
          if (depth === 0) {
            endMember(text, from, at);
            phase = NOT_SPACE.test(text.slice(i)) ? "dead" : "after";
            return;
          }
      }
    }
    // The text ended inside a key or a kept value: keep its part.
    if (inKey && key.length < KEY_LIMIT) {
      key += text.slice(from, from + KEY_LIMIT - key.length);
    }
    if (target !== undefined) {
      value += text.slice(from);
      if (value.length > VALUE_LIMIT) target = undefined;
    }
  }

  function parsed(name: string): unknown {
    const raw = found.get(name)?.replace(/^\s*:/, "");
    if (raw === undefined) return undefined;
    try {
      return JSON.parse(raw);
    } catch {
      return undefined;
    }
  }

  return {
    get dead() {
      return phase === "dead";
    },
    push,
    end: () =>
      phase === "after"
        ? readingOf(parsed("usage"), parsed("model"))
        : undefined,
  };
}
