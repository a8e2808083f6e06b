// The live dashboard's page: listens to the demo's server-sent events
// (/events) and draws them. Plain JavaScript, no build step, no library.
//
// Messages (see scripts/dashboard/_collect.ts): `hello` (a run's endpoints
// and phases), `snapshot` (every tick), `failover` (a tick's failovers),
// `phase`, `breaker`, `rate-limit`, `auth-failure`, `health-check`, `run`.
//
// For tests, each lane carries data-name, data-state and data-rps, the page
// data-phase (the current phase's name) and data-run.

"use strict";

/**
 * Ticks drawn per lane when the run's length is unknown; otherwise the
 * chart spans the whole run, its phases aligned across the lanes.
 */
const HISTORY = 120;
/** How long a failover arrow stays bright after its last failover, ms. */
const ARROW_MS = 1800;
/** Entries kept in the event log. */
const LOG_MAX = 40;

const byId = (id) => document.getElementById(id);
const css = getComputedStyle(document.documentElement);
const color = (name) => css.getPropertyValue(`--${name}`).trim();
const COLORS = {
  traffic: color("traffic"),
  failed: color("failed"),
  line: color("line"),
  muted: color("muted"),
  states: {
    open: color("open"),
    "half-open": color("half-open"),
    "rate-limited": color("rate-limited"),
    unauthorized: color("unauthorized"),
    unhealthy: color("unhealthy"),
  },
};

/** The current run: its `hello`, lanes by name, phases. */
let run = null;

// ---------------------------------------------------------------- format

const fmt = {
  int: (n) => Math.round(n).toLocaleString("en-US"),
  ms: (n) => (n === null || n === undefined ? "–" : `${Math.round(n)} ms`),
  secs: (ms) =>
    ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`,
  usd: (n) =>
    n === null || n === undefined
      ? "–"
      : n === 0
      ? "$0"
      : n < 0.01
      ? `$${n.toFixed(6)}`
      : `$${n.toFixed(4)}`,
  t: (ms) => `${(ms / 1000).toFixed(1)}s`,
};

function phaseKind(name) {
  if (/another provider/.test(name)) return "provider";
  if (/429/.test(name)) return "limited";
  if (/down|500/.test(name)) return "down";
  return "up";
}

// ------------------------------------------------------------------ hello

function onHello(hello) {
  const lanesEl = byId("lanes");
  for (const el of lanesEl.querySelectorAll(".lane")) el.remove();
  for (const el of byId("arrows").querySelectorAll("g")) el.remove();
  byId("log").replaceChildren();
  const template = byId("lane-template");
  const lanes = new Map();
  hello.endpoints.forEach((endpoint, index) => {
    const el = template.content.firstElementChild.cloneNode(true);
    el.dataset.name = endpoint.name;
    el.dataset.rps = "0";
    el.querySelector(".name").textContent = endpoint.name;
    el.querySelector(".prio").textContent = `priority ${endpoint.priority}`;
    lanesEl.append(el);
    lanes.set(endpoint.name, {
      index,
      el,
      canvas: el.querySelector("canvas"),
      history: [],
      movingUntil: 0,
    });
  });
  const plannedMs = hello.phases.reduce((sum, p) => sum + (p.ms || 0), 0);
  run = {
    hello,
    // The pauses between phases (calls in flight finish) add a little.
    slots: plannedMs > 0
      ? Math.max(40, Math.ceil(plannedMs * 1.07 / hello.tickMs) + 2)
      : HISTORY,
    lanes,
    phase: -1,
    links: new Map(),
    seenLinks: new Set(),
  };
  document.body.dataset.run = String(hello.run);
  byId("run").textContent = `run ${hello.run}`;
  byId("scale").textContent = hello.timeScale === 1
    ? ""
    : `time scale ${hello.timeScale}`;
  const steps = byId("steps");
  steps.replaceChildren(...hello.phases.map((phase, i) => {
    const li = document.createElement("li");
    li.dataset.kind = phaseKind(phase.name);
    li.title = phase.description;
    const b = document.createElement("b");
    b.textContent = String(i + 1);
    li.append(b, phase.name);
    return li;
  }));
  setPhase(-1);
  byId("failed-card").className = "card ok";
  requestAnimationFrame(() => layoutArrows());
}

// ------------------------------------------------------------------ phase

function setPhase(index, t) {
  if (!run) return;
  const previous = run.phase;
  run.phase = index;
  [...byId("steps").children].forEach((li, i) => {
    li.className = i < index ? "past" : i === index ? "current" : "";
  });
  const phase = run.hello.phases[index];
  document.body.dataset.phase = phase ? phase.name : "";
  byId("phase-text").textContent = phase
    ? `Phase ${
      index + 1
    }/${run.hello.phases.length}: ${phase.name} — ${phase.description}`
    : "Starting…";
  byId("phase-watch").textContent = phase && phase.watch
    ? `Watch: ${phase.watch}`
    : "";
  if (phase && index !== previous && t !== undefined) {
    run.seenLinks.clear();
    log(t, "phase", "phase", `${index + 1} · ${phase.name}`);
  }
}

// --------------------------------------------------------------- snapshot

function onSnapshot(s) {
  if (!run || s.run !== run.hello.run) return;
  if (s.phase !== run.phase) setPhase(s.phase);
  byId("clock").textContent = `${(s.t / 1000).toFixed(1)} s`;
  byId("calls").textContent = fmt.int(s.calls);
  byId("failed").textContent = fmt.int(s.failedCalls);
  byId("failed-card").className = s.failedCalls === 0 ? "card ok" : "card bad";
  byId("failovers").textContent = fmt.int(s.failovers);
  byId("cost").textContent = fmt.usd(s.costUsd);
  byId("latency").textContent = `${fmt.ms(s.p50)} / ${fmt.ms(s.p99)}`;
  const now = performance.now();
  for (const lane of s.lanes) {
    const view = run.lanes.get(lane.name);
    if (!view) continue;
    const el = view.el;
    el.dataset.state = lane.state;
    el.dataset.rps = String(lane.rps);
    el.querySelector(".pill").textContent = lane.state;
    el.querySelector(".left").textContent = lane.availableInMs === null
      ? ""
      : `back in ${fmt.secs(lane.availableInMs)}`;
    el.querySelector(".model").textContent = lane.model
      ? `model sent: ${lane.model}`
      : "no call yet";
    el.querySelector(".rps").textContent = `${fmt.int(lane.rps)}/s`;
    el.querySelector(".lat").textContent = `${fmt.ms(lane.p50)} / ${
      fmt.ms(lane.p99)
    }`;
    el.querySelector(".tok").textContent = `${fmt.int(lane.tokensIn)} / ${
      fmt.int(lane.tokensOut)
    }`;
    el.querySelector(".usd").textContent = fmt.usd(lane.costUsd);
    el.querySelector(".req").textContent = `${fmt.int(lane.requests)} / ${
      fmt.int(lane.failures)
    }`;
    if (view.movingUntil < now) {
      el.querySelector(".moving").classList.add("fade");
    }
    view.history.push({
      rps: lane.rps,
      failedRps: lane.failedRps,
      state: lane.state,
      phase: s.phase,
    });
    if (view.history.length > run.slots) view.history.shift();
  }
  const peak = Math.max(
    1,
    ...[...run.lanes.values()].flatMap((v) => v.history.map((h) => h.rps)),
  );
  for (const view of run.lanes.values()) draw(view, peak);
  fadeArrows(now);
}

/** A lane's traffic: attempts/s (blue), failed ones (red), its state behind. */
function draw(view, peak) {
  const canvas = view.canvas;
  const dpr = globalThis.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  if (w === 0 || h === 0) return;
  if (canvas.width !== Math.round(w * dpr)) canvas.width = Math.round(w * dpr);
  if (canvas.height !== Math.round(h * dpr)) {
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const step = w / (run.slots - 1);
  const points = view.history;
  const x = (i) =>
    points.length < run.slots ? i * step : w - (points.length - 1 - i) * step;
  const top = 24;
  const y = (v) => h - 3 - (v / peak) * (h - top - 3);

  // The state behind each tick.
  points.forEach((p, i) => {
    const c = COLORS.states[p.state];
    if (!c) return;
    ctx.fillStyle = c;
    ctx.globalAlpha = 0.16;
    ctx.fillRect(x(i) - step / 2, 0, step + 0.5, h);
    ctx.globalAlpha = 1;
  });
  // Phase boundaries.
  ctx.strokeStyle = COLORS.line;
  ctx.fillStyle = COLORS.muted;
  ctx.font = "10px system-ui, sans-serif";
  ctx.setLineDash([3, 3]);
  points.forEach((p, i) => {
    if (i === 0 || p.phase === points[i - 1].phase || p.phase < 0) return;
    ctx.beginPath();
    ctx.moveTo(x(i) - step / 2, 0);
    ctx.lineTo(x(i) - step / 2, h);
    ctx.stroke();
    ctx.fillText(String(p.phase + 1), x(i) - step / 2 + 3, 11);
  });
  ctx.setLineDash([]);
  if (points.length < 2) return;

  const area = (value, fill, stroke) => {
    ctx.beginPath();
    ctx.moveTo(x(0), h);
    points.forEach((p, i) => ctx.lineTo(x(i), y(value(p))));
    ctx.lineTo(x(points.length - 1), h);
    ctx.closePath();
    ctx.fillStyle = fill;
    ctx.fill();
    if (!stroke) return;
    ctx.beginPath();
    points.forEach((p, i) =>
      i === 0 ? ctx.moveTo(x(i), y(value(p))) : ctx.lineTo(x(i), y(value(p)))
    );
    ctx.strokeStyle = stroke;
    ctx.lineWidth = 1.6;
    ctx.stroke();
  };
  const gradient = ctx.createLinearGradient(0, top, 0, h);
  gradient.addColorStop(0, "rgba(77, 163, 255, 0.55)");
  gradient.addColorStop(1, "rgba(77, 163, 255, 0.05)");
  area((p) => p.rps, gradient, COLORS.traffic);
  if (points.some((p) => p.failedRps > 0)) {
    area((p) => p.failedRps, "rgba(255, 93, 93, 0.7)");
  }
}

// --------------------------------------------------------------- failover

/** Vertical centre of each lane, relative to #lanes. */
function centres() {
  const map = new Map();
  for (const [name, view] of run.lanes) {
    map.set(name, view.el.offsetTop + view.el.offsetHeight / 2);
  }
  return map;
}

function linkPath(y1, y2, distance, width) {
  const reach = Math.min(width - 6, 20 + 14 * distance);
  const x = width - 2;
  return `M${x},${y1} C${x - reach},${y1} ${x - reach},${y2} ${x},${y2}`;
}

function layoutArrows() {
  if (!run) return;
  const svg = byId("arrows");
  const width = svg.clientWidth;
  const y = centres();
  for (const link of run.links.values()) {
    const a = y.get(link.from);
    const b = y.get(link.to);
    if (a === undefined || b === undefined) continue;
    const distance = Math.abs(
      run.lanes.get(link.to).index - run.lanes.get(link.from).index,
    );
    link.path.setAttribute(
      "d",
      linkPath(a + 8, b - 8, distance, width),
    );
    const reach = Math.min(width - 6, 20 + 14 * distance);
    const bx = width - 2 - reach * 0.75;
    const by = (a + b) / 2;
    link.badge.setAttribute("x", String(bx - 16));
    link.badge.setAttribute("y", String(by - 9));
    link.text.setAttribute("x", String(bx));
    link.text.setAttribute("y", String(by + 4));
  }
}

function onFailover(message) {
  if (!run || message.run !== run.hello.run) return;
  const svg = byId("arrows");
  const now = performance.now();
  for (const { from, to, reason, count } of message.links) {
    const key = `${from}→${to}`;
    let link = run.links.get(key);
    if (!link) {
      const ns = "http://www.w3.org/2000/svg";
      const g = document.createElementNS(ns, "g");
      g.classList.add("arrow");
      g.dataset.from = from;
      g.dataset.to = to;
      const path = document.createElementNS(ns, "path");
      path.classList.add("link");
      path.setAttribute("marker-end", "url(#head)");
      const badge = document.createElementNS(ns, "rect");
      badge.setAttribute("width", "32");
      badge.setAttribute("height", "18");
      badge.setAttribute("rx", "9");
      const text = document.createElementNS(ns, "text");
      text.setAttribute("text-anchor", "middle");
      g.append(path, badge, text);
      svg.append(g);
      link = { from, to, g, path, badge, text, total: 0, until: 0 };
      run.links.set(key, link);
      layoutArrows();
    }
    link.total += count;
    link.until = now + ARROW_MS;
    link.g.dataset.total = String(link.total);
    link.g.classList.remove("fade");
    link.text.textContent = `×${link.total}`;
    link.path.setAttribute(
      "stroke-width",
      String(Math.min(5, 1.5 + Math.log2(1 + count))),
    );
    const lane = run.lanes.get(from);
    if (lane) {
      const moving = lane.el.querySelector(".moving");
      moving.textContent = `↪ ${to} · ${reason}`;
      moving.classList.remove("fade");
      lane.movingUntil = now + ARROW_MS;
    }
    const seen = `${from}\n${to}\n${reason}`;
    if (!run.seenLinks.has(seen)) {
      run.seenLinks.add(seen);
      log(message.t, "failover", "failover", `${from} → ${to} · ${reason}`);
    }
  }
}

function fadeArrows(now) {
  for (const link of run.links.values()) {
    if (link.until < now) link.g.classList.add("fade");
  }
}

// -------------------------------------------------------------------- log

function log(t, tagClass, tag, text) {
  const li = document.createElement("li");
  const time = document.createElement("span");
  time.className = "t num";
  time.textContent = t === undefined ? "" : fmt.t(t);
  const label = document.createElement("span");
  label.className = `tag ${tagClass}`;
  label.textContent = tag;
  const body = document.createElement("span");
  body.textContent = text;
  li.append(time, label, body);
  const list = byId("log");
  list.prepend(li);
  while (list.children.length > LOG_MAX) list.lastElementChild.remove();
}

function onBreaker(e) {
  if (!run || e.run !== run.hello.run) return;
  const why = e.to === "half-open"
    ? "cooldown over, next request probes"
    : e.from === "half-open"
    ? e.to === "closed" ? "probe passed" : "probe failed"
    : "";
  const open = e.cooldownMs === null ? "" : ` for ${fmt.secs(e.cooldownMs)}`;
  log(
    e.t,
    e.to,
    `breaker`,
    `${e.endpoint}: ${e.from} → ${e.to}${open}${why ? ` (${why})` : ""}`,
  );
}

function onRateLimit(e) {
  if (!run || e.run !== run.hello.run) return;
  log(
    e.t,
    "limited",
    `${e.status}`,
    `${e.endpoint} benched for ${fmt.secs(e.delayMs)}`,
  );
}

function onAuthFailure(e) {
  if (!run || e.run !== run.hello.run) return;
  log(
    e.t,
    "auth",
    `${e.status}`,
    `${e.endpoint}: key rejected, benched for ${fmt.secs(e.benchMs)}`,
  );
}

function onHealthCheck(e) {
  if (!run || e.run !== run.hello.run) return;
  log(
    e.t,
    e.ok ? "closed" : "open",
    "health",
    `${e.endpoint} ${
      e.ok ? "passes" : `fails${e.status === null ? "" : ` (HTTP ${e.status})`}`
    }`,
  );
}

function onPhase(e) {
  if (!run || e.run !== run.hello.run) return;
  setPhase(e.index, e.t);
}

/** The event stream, closed once the demo says it stopped. */
let source = null;

function onRun(e) {
  document.body.dataset.runState = e.state;
  if (e.state === "stopped") {
    // The demo is ending (Ctrl-C): no reconnecting to a closed port.
    source.close();
    const conn = byId("conn");
    conn.dataset.conn = "lost";
    conn.textContent = "demo stopped";
  }
  byId("run").textContent = `run ${e.run}`;
  if (e.state === "waiting") {
    byId("phase-text").textContent = `Run ${e.run} starts when a page opens…`;
    byId("phase-watch").textContent = "";
  } else if (e.state === "finished" || e.state === "stopped") {
    const next = e.nextInMs
      ? ` The story plays again in ${fmt.secs(e.nextInMs)}.`
      : e.state === "stopped"
      ? " The demo stopped; start it again and reload this page."
      : "";
    const verdict = e.failedCalls === 0
      ? "not one failed"
      : `${e.failedCalls} failed`;
    const ended = e.complete ? "finished" : "stopped";
    byId("phase-text").textContent = e.calls === undefined
      ? `Run ${e.run} ${ended}.${next}`
      : `Run ${e.run} ${ended}: ${fmt.int(e.calls)} calls, ${verdict}, ${
        fmt.int(e.failovers)
      } failovers.${next}`;
    byId("phase-watch").textContent =
      "Each lane's chart tells the story: tinted stretches are when the endpoint was out, dashed lines mark the phases.";
    if (run && run.hello.run === e.run) {
      if (e.state === "finished") {
        log(
          e.durationMs,
          "run",
          "done",
          `${fmt.int(e.calls)} calls, ${verdict}`,
        );
      } else {
        log(undefined, "run", "stopped", "the demo stopped (Ctrl-C)");
      }
    }
  }
}

// ------------------------------------------------------------- connection

function connect() {
  source = new EventSource("/events");
  const conn = byId("conn");
  source.addEventListener("open", () => {
    conn.dataset.conn = "live";
    conn.textContent = "live";
  });
  source.addEventListener("error", () => {
    conn.dataset.conn = "lost";
    conn.textContent = "reconnecting";
  });
  const on = (type, handler) =>
    source.addEventListener(type, (e) => handler(JSON.parse(e.data)));
  on("hello", onHello);
  on("snapshot", onSnapshot);
  on("failover", onFailover);
  on("phase", onPhase);
  on("breaker", onBreaker);
  on("rate-limit", onRateLimit);
  on("auth-failure", onAuthFailure);
  on("health-check", onHealthCheck);
  on("run", onRun);
}

new ResizeObserver(() => layoutArrows()).observe(byId("lanes"));
connect();
