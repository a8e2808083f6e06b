// Fails when the modules of src/ import each other in a cycle — type-only
// imports and re-exports included: a type cycle is one value import away
// from a load-order bug. Prints each cycle found (Tarjan's strongly
// connected components over relative imports).
//
// Usage: deno run --allow-read scripts/check_cycles.ts

const IMPORT = /(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"/gs;

async function modules(dir: string, out = new Map<string, string[]>()) {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) await modules(path, out);
    else if (entry.name.endsWith(".ts")) {
      const text = await Deno.readTextFile(path);
      out.set(
        path,
        [...text.matchAll(IMPORT)].map((m) => resolve(dir, m[1])),
      );
    }
  }
  return out;
}

/** `dir/../x.ts` → the normalised path. */
function resolve(dir: string, relative: string): string {
  const parts = `${dir}/${relative}`.split("/");
  const out: string[] = [];
  for (const part of parts) {
    if (part === "..") out.pop();
    else if (part !== ".") out.push(part);
  }
  return out.join("/");
}

const graph = await modules("src");
const index = new Map<string, number>();
const low = new Map<string, number>();
const stack: string[] = [];
const onStack = new Set<string>();
const cycles: string[][] = [];
let next = 0;

function connect(v: string): void {
  index.set(v, next);
  low.set(v, next++);
  stack.push(v);
  onStack.add(v);
  for (const w of graph.get(v) ?? []) {
    if (!graph.has(w)) continue;
    if (!index.has(w)) {
      connect(w);
      low.set(v, Math.min(low.get(v)!, low.get(w)!));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
  }
  if (low.get(v) !== index.get(v)) return;
  const component: string[] = [];
  let w: string;
  do {
    w = stack.pop()!;
    onStack.delete(w);
    component.push(w);
  } while (w !== v);
  if (component.length > 1 || graph.get(v)!.includes(v)) {
    cycles.push(component.sort());
  }
}

for (const v of graph.keys()) if (!index.has(v)) connect(v);
if (cycles.length > 0) {
  for (const cycle of cycles) {
    console.error(`import cycle: ${cycle.join(", ")}`);
  }
  Deno.exit(1);
}
console.log(`import cycles: none among ${graph.size} modules of src/`);
