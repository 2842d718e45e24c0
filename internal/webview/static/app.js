// The web view of librato serve. It reads the same /v1/ API every client
// reads, with the credentials the browser was given for this page, and holds
// no data of its own. Views: #/ (metric list), #/metric/NAME, #/alerts,
// #/composite; their settings live in the hash, so a link shows the same view.
"use strict";

const REFRESH_MS = 5000;
const RANGES = [["15m", 900], ["1h", 3600], ["6h", 21600], ["1d", 86400], ["7d", 604800]];
const RESOLUTIONS = [1, 60, 300, 3600, 86400];
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"];

// ---- talking to the API ----

// apiURL builds a URL on this origin (never one carrying the page's user and
// password: fetch refuses those).
function apiURL(path, params) {
  const u = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") u.searchParams.set(k, v);
  }
  return u;
}

// get fetches one API URL and returns its JSON; a failure throws an Error
// carrying the API's own message.
async function get(url) {
  const resp = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
  const text = await resp.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (e) { /* not JSON: reported below */ }
  if (!resp.ok) {
    const err = new Error(`${resp.status} from ${url.pathname}: ${errorText(body) || text.slice(0, 200) || resp.statusText}`);
    err.status = resp.status;
    throw err;
  }
  if (body === null && text) throw new Error(`${url.pathname} answered something other than JSON`);
  return body;
}

// errorText flattens the API's error bodies ({"errors":{"params":{"x":["..."]}}} and the like).
function errorText(body) {
  if (!body || typeof body !== "object") return "";
  const parts = [];
  const walk = (v, key) => {
    if (typeof v === "string") parts.push(key ? `${key}: ${v}` : v);
    else if (Array.isArray(v)) v.forEach((x) => walk(x, key));
    else if (v && typeof v === "object") Object.entries(v).forEach(([k, x]) => walk(x, k));
  };
  walk(body.errors || body.error || body.message || "", "");
  return parts.join("; ");
}

// listAll reads every page of an offset-paged list (GET /v1/metrics, /v1/alerts, /v1/annotations).
async function listAll(path, key, params) {
  const out = [];
  for (let offset = 0; ; ) {
    const body = await get(apiURL(path, { ...params, offset, length: 100 }));
    const items = body[key] || [];
    out.push(...items);
    const q = body.query || {};
    offset += items.length;
    if (items.length === 0 || offset >= (q.found ?? q.total ?? 0)) return out;
  }
}

let serverInfo = { appoptics: false, now: Math.floor(Date.now() / 1000) };
let serverInfoAt = Date.now();

// serverNow is the server's clock (it may be fixed, in tests), advanced by the time since it was read.
function serverNow() {
  return serverInfo.now + Math.floor((Date.now() - serverInfoAt) / 1000);
}

async function readServerInfo() {
  serverInfo = await get(apiURL("/ui/server.json"));
  serverInfoAt = Date.now();
}

// taggedSeries reads GET /v1/measurements/NAME over a window, following links rel=next.
async function taggedSeries(name, start, end, resolution) {
  const out = [];
  let url = apiURL("/v1/measurements/" + encodeURIComponent(name), { start_time: start, end_time: end, resolution });
  for (let pages = 0; url && pages < 1000; pages++) {
    const body = await get(url);
    for (const s of body.series || []) {
      out.push({ label: tagLabel(s.tags), points: (s.measurements || []).map((m) => [m.time, m.value]) });
    }
    const next = (body.links || []).find((l) => l.rel === "next");
    url = null;
    if (next) {
      const n = new URL(next.href, location.origin);
      url = apiURL(n.pathname + n.search);
    }
  }
  return out;
}

// legacySeries reads GET /v1/metrics/NAME over a window (source-based series), following query.next_time.
async function legacySeries(name, start, end, resolution) {
  const bySource = new Map();
  for (let from = start, pages = 0; from !== undefined && pages < 1000; pages++) {
    const body = await get(apiURL("/v1/metrics/" + encodeURIComponent(name), { start_time: from, end_time: end, resolution }));
    for (const [source, points] of Object.entries(body.measurements || {})) {
      if (!bySource.has(source)) bySource.set(source, []);
      bySource.get(source).push(...points.map((p) => [p.measure_time, p.value]));
    }
    const next = body.query && body.query.next_time;
    from = next && next > from ? next : undefined;
  }
  return [...bySource].map(([source, points]) => ({ label: "source " + source, points }));
}

// compositeSeries runs a composite query over tagged series (GET /v1/measurements?compose=, whose
// body is an object with series or, in the docs' form, a bare array) or over source-based ones
// (GET /v1/metrics?compose=, series under measurements, each with its source).
async function compositeSeries(expr, start, end, resolution, sources) {
  const path = sources ? "/v1/metrics" : "/v1/measurements";
  const body = await get(apiURL(path, { compose: expr, start_time: start, end_time: end, resolution }));
  const list = Array.isArray(body) ? body : body.series || body.measurements || [];
  return list.map((s) => {
    const q = s.query || {};
    const metric = q.metric || (s.metric && s.metric.name) || "";
    let where = tagLabel(s.tags || q.tags);
    if (sources) where = "source " + ((s.source && s.source.name) || q.source || "unassigned");
    return { label: metric && where !== "(no tags)" ? `${metric} ${where}` : metric || where, points: (s.measurements || s.series || []).map((m) => [m.time ?? m.measure_time, m.value]) };
  });
}

// annotationMarkers reads every stream's events in the window.
async function annotationMarkers(start, end) {
  const streams = await listAll("/v1/annotations", "annotations");
  const lists = await Promise.all(streams.map(async (st) => {
    const body = await get(apiURL("/v1/annotations/" + encodeURIComponent(st.name), { start_time: start, end_time: end }));
    // events is a map of source to events, or (in the docs) an array of such maps.
    const groups = Array.isArray(body.events) ? body.events : [body.events || {}];
    const out = [];
    for (const g of groups) {
      for (const events of Object.values(g || {})) {
        for (const e of events || []) {
          out.push({ stream: st.display_name || st.name, title: e.title, description: e.description || "", time: e.start_time, end: e.end_time });
        }
      }
    }
    return out;
  }));
  return lists.flat().filter((m) => m.time >= start && m.time <= end).sort((a, b) => a.time - b.time);
}

function tagLabel(tags) {
  const keys = Object.keys(tags || {}).sort();
  if (keys.length === 0) return "(no tags)";
  return keys.map((k) => {
    const v = tags[k];
    return `${k}=${Array.isArray(v) ? v.join("|") : v}`;
  }).join(", ");
}

// ---- the page ----

const view = document.getElementById("view");
const errorBox = document.getElementById("error");
const updated = document.getElementById("updated");
const liveBox = document.getElementById("live");

// el builds an element: el("a", {href: "#"}, "text", child...). Text is always text, never HTML.
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "on") Object.entries(v).forEach(([ev, f]) => e.addEventListener(ev, f));
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c !== undefined && c !== null) e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

function showError(err) {
  errorBox.hidden = !err;
  errorBox.textContent = err ? String(err.message || err) : "";
}

function parseHash() {
  const h = location.hash.replace(/^#/, "") || "/";
  const [path, query] = h.split("?");
  return { path, params: new URLSearchParams(query || "") };
}

function setHashParams(params) {
  const { path } = parseHash();
  const q = params.toString();
  history.replaceState(null, "", "#" + path + (q ? "?" + q : ""));
}

// fmtTime writes a Unix time in the browser's time zone, as the chart's axis does.
function fmtTime(t) {
  const d = new Date(t * 1000);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function fmtNumber(v) {
  if (v === null || v === undefined) return "";
  return Math.abs(v) >= 1e6 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : String(+v.toFixed(4));
}

// autoResolution is the smallest resolution that keeps a series within about 1500 points.
function autoResolution(range) {
  return RESOLUTIONS.find((r) => range / r <= 1500) || RESOLUTIONS[RESOLUTIONS.length - 1];
}

// windowControls are the range and resolution choices of a chart view, kept in the hash.
function windowControls(params, onChange) {
  const range = +params.get("range") || 3600;
  const res = params.get("res") || "auto";
  const rangeSel = el("select", { id: "range", "aria-label": "range" },
    RANGES.map(([label, secs]) => el("option", { value: secs, selected: secs === range }, "last " + label)));
  if (!RANGES.some(([, s]) => s === range)) rangeSel.append(el("option", { value: range, selected: true }, `last ${range}s`));
  const resSel = el("select", { id: "resolution", "aria-label": "resolution" },
    el("option", { value: "auto", selected: res === "auto" }, "auto resolution"),
    RESOLUTIONS.map((r) => el("option", { value: r, selected: String(r) === res }, `${r}s resolution`)));
  const changed = () => {
    params.set("range", rangeSel.value);
    params.set("res", resSel.value);
    setHashParams(params);
    onChange();
  };
  rangeSel.addEventListener("change", changed);
  resSel.addEventListener("change", changed);
  const timeWindow = () => {
    const r = +rangeSel.value;
    const end = serverNow();
    const resolution = resSel.value === "auto" ? autoResolution(r) : +resSel.value;
    return { start: end - r, end, resolution };
  };
  return { node: el("span", { class: "controls" }, rangeSel, " ", resSel), timeWindow };
}

// ---- charts ----

// align turns series of [time, value] pairs into uPlot's columns: one shared time axis and a
// value column per series, null where a series has no point.
function align(series) {
  const times = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const cols = series.map((s) => {
    const col = new Array(times.length).fill(null);
    for (const [t, v] of s.points) col[index.get(t)] = v;
    return col;
  });
  return [times, ...cols];
}

// markersPlugin draws annotations: a dashed line on the canvas and a labelled flag over it, as
// elements a person (and a test) can read and hover for the description. markers() gives the
// current list, so a refresh with new annotations needs no new chart.
function markersPlugin(markers) {
  let layer;
  const place = (u) => {
    layer.replaceChildren();
    for (const m of markers()) {
      const x = u.valToPos(m.time, "x");
      if (x < 0 || x > u.over.clientWidth) continue;
      // A flag near the right edge opens to the left, so it stays inside the chart.
      const side = x > u.over.clientWidth - 160 ? "marker flag-left" : "marker";
      layer.append(el("div", { class: side, style: `left:${x}px`, title: `${m.stream}: ${m.title}\n${fmtTime(m.time)}${m.description ? "\n" + m.description : ""}` },
        el("span", { class: "marker-label" }, m.title)));
    }
  };
  return {
    hooks: {
      init: (u) => { layer = el("div", { class: "markers" }); u.over.append(layer); },
      draw: (u) => {
        const ctx = u.ctx;
        ctx.save();
        ctx.strokeStyle = "#b8860b";
        ctx.lineWidth = devicePixelRatio;
        ctx.setLineDash([4 * devicePixelRatio, 4 * devicePixelRatio]);
        for (const m of markers()) {
          // On a pixel's centre, so the 1 px line is crisp rather than two half-tone columns.
          const x = Math.round(u.valToPos(m.time, "x", true)) + 0.5;
          if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
        }
        ctx.restore();
        place(u);
      },
    },
  };
}

// Chart is one uPlot chart in a box whose data attributes say what is drawn: data-state
// (loading, ready once drawn, empty, error), data-series, data-points, data-markers and
// data-render-ms (from the data's arrival to the chart drawn), for people reading the page and
// for tests.
class Chart {
  constructor(box) {
    this.box = box;
    this.plot = null;
    this.labels = "";
    this.markers = [];
    this.win = { start: 0, end: 0 };
    this.started = 0;
    box.dataset.state = "loading";
  }

  // draw shows series and markers over the window [start, end]; the same series as last time keep
  // the chart and change only its data.
  draw(series, markers, start, end) {
    this.started = performance.now();
    this.markers = markers;
    this.win = { start, end };
    const data = align(series);
    const labels = series.map((s) => s.label).join("\n");
    this.box.dataset.series = series.length;
    this.box.dataset.points = series.reduce((n, s) => n + s.points.length, 0);
    this.box.dataset.markers = markers.length;
    if (series.length === 0) {
      this.destroy();
      this.box.dataset.state = "empty";
      this.box.replaceChildren(el("p", { class: "muted empty" }, "No measurements in this window."));
      return;
    }
    if (this.plot && labels === this.labels) {
      // A refresh keeps a zoom the user chose (drag to zoom, double-click to undo).
      this.plot.setData(data);
      if (!this.zoomed) this.showWindow();
      return;
    }
    this.destroy();
    this.box.replaceChildren();
    this.labels = labels;
    const opts = {
      width: Math.max(320, this.box.clientWidth || 900),
      height: 360,
      // The x scale is set by hand: the window, or the user's zoom.
      scales: { x: { time: true, auto: false } },
      // A double-click gives the window back (uPlot's own would zoom to the data's extent).
      cursor: { bind: { dblclick: () => null } },
      series: [{ label: "time", value: (u, v) => (v == null ? "" : fmtTime(v)) },
        ...series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], width: 1.5, value: (u, v) => fmtNumber(v) }))],
      axes: [{}, { size: 70, values: (u, vals) => vals.map(fmtNumber) }],
      legend: { live: true },
      hooks: { draw: [() => this.drawn()], setScale: [(u, key) => key === "x" && this.scaled(u)] },
      plugins: [markersPlugin(() => this.markers)],
    };
    this.plot = new uPlot(opts, data, this.box);
    this.showWindow();
    this.plot.over.addEventListener("dblclick", () => this.showWindow());
    this.onResize = () => this.plot && this.plot.setSize({ width: Math.max(320, this.box.clientWidth), height: 360 });
    window.addEventListener("resize", this.onResize);
  }

  // showWindow sets the x scale to the window.
  showWindow() {
    this.plot.setScale("x", { min: this.win.start, max: this.win.end });
  }

  // scaled notes whether the x scale is the window (after data or a double-click) or a zoom.
  scaled(u) {
    const { min, max } = u.scales.x;
    this.zoomed = min > this.win.start + 1 || max < this.win.end - 1;
    this.box.dataset.zoomed = this.zoomed;
  }

  // drawn runs after uPlot has drawn (it draws in a microtask after new uPlot or setData).
  drawn() {
    if (!this.started) return;
    this.box.dataset.renderMs = (performance.now() - this.started).toFixed(1);
    this.box.dataset.state = "ready";
    this.started = 0;
  }

  destroy() {
    if (this.plot) {
      this.plot.destroy();
      window.removeEventListener("resize", this.onResize);
    }
    this.plot = null;
    this.labels = "";
    this.zoomed = false;
  }
}

function markerList(markers) {
  if (markers.length === 0) return el("p", { class: "muted" }, "No annotations in this window.");
  return el("table", { class: "annotations" },
    el("thead", {}, el("tr", {}, el("th", {}, "time"), el("th", {}, "stream"), el("th", {}, "title"), el("th", {}, "description"))),
    el("tbody", {}, markers.map((m) => el("tr", {}, el("td", {}, fmtTime(m.time)), el("td", {}, m.stream), el("td", {}, m.title), el("td", {}, m.description)))));
}

// ---- views ----
// Each view builds its page once and returns a refresh function, called at once and then by the
// live refresh timer.

function metricsView(params) {
  const search = el("input", { type: "search", id: "search", placeholder: "search metric names", value: params.get("q") || "", "aria-label": "search" });
  const typeSel = el("select", { id: "type", "aria-label": "type" },
    ["all types", "gauge", "counter", "composite"].map((t) => el("option", { value: t === "all types" ? "" : t, selected: (params.get("type") || "") === (t === "all types" ? "" : t) }, t)));
  const count = el("p", { class: "muted", id: "count" });
  const tbody = el("tbody", { id: "metrics" });
  view.replaceChildren(el("h1", {}, "Metrics"), el("p", { class: "controls" }, search, " ", typeSel), count,
    el("table", { class: "list" }, el("thead", {}, el("tr", {}, el("th", {}, "name"), el("th", {}, "type"), el("th", {}, "period"), el("th", {}, "description"))), tbody));
  let timer;
  const refresh = async () => {
    const q = search.value.trim();
    const all = await listAll("/v1/metrics", "metrics", { name: q });
    const shown = all.filter((m) => !typeSel.value || m.type === typeSel.value);
    count.textContent = `${shown.length} metric${shown.length === 1 ? "" : "s"}${q || typeSel.value ? " match" : ""}`;
    tbody.replaceChildren(...shown.map((m) => el("tr", {},
      el("td", {}, el("a", { href: "#/metric/" + encodeURIComponent(m.name) }, m.name), m.display_name && m.display_name !== m.name ? el("span", { class: "muted" }, " " + m.display_name) : null),
      el("td", {}, m.type), el("td", {}, m.period ? m.period + "s" : ""), el("td", {}, m.description || ""))));
  };
  const changed = () => {
    params.set("q", search.value.trim());
    params.set("type", typeSel.value);
    setHashParams(params);
    clearTimeout(timer);
    timer = setTimeout(() => run(refresh), 200);
  };
  search.addEventListener("input", changed);
  typeSel.addEventListener("change", changed);
  return refresh;
}

function metricView(name, params) {
  const meta = el("p", { class: "muted", id: "meta" });
  const box = el("div", { class: "chart", id: "chart" });
  const notes = el("div", { id: "markers" });
  const controls = windowControls(params, () => run(refresh));
  view.replaceChildren(el("p", {}, el("a", { href: "#/" }, "← metrics")), el("h1", {}, name), meta, controls.node, box,
    el("h2", {}, "Annotations"), notes);
  const chart = new Chart(box);
  current.chart = chart;
  const refresh = async () => {
    const w = controls.timeWindow();
    let m;
    try {
      m = await get(apiURL("/v1/metrics/" + encodeURIComponent(name)));
    } catch (err) {
      if (err.status === 404) throw new Error(`There is no metric named "${name}" on this server.`);
      throw err;
    }
    meta.textContent = [m.type, m.period ? `period ${m.period}s` : "", m.description, m.composite ? `composite: ${m.composite}` : "", `${w.resolution}s resolution`].filter(Boolean).join(" · ");
    let series;
    if (m.type === "composite" && m.composite) {
      series = await compositeSeries(m.composite, w.start, w.end, w.resolution);
    } else {
      const parts = await Promise.all([taggedSeries(name, w.start, w.end, w.resolution),
        serverInfo.appoptics ? [] : legacySeries(name, w.start, w.end, w.resolution)]);
      series = parts.flat();
    }
    const markers = await annotationMarkers(w.start, w.end);
    chart.draw(series, markers, w.start, w.end);
    notes.replaceChildren(markerList(markers));
  };
  return refresh;
}

function alertsView() {
  const tbody = el("tbody", { id: "alerts" });
  const count = el("p", { class: "muted", id: "count" });
  view.replaceChildren(el("h1", {}, "Alerts"), count,
    el("table", { class: "list" }, el("thead", {}, el("tr", {}, el("th", {}, "name"), el("th", {}, "state"), el("th", {}, "conditions"), el("th", {}, "description"))), tbody));
  return async () => {
    const [alerts, status] = await Promise.all([listAll("/v1/alerts", "alerts"), get(apiURL("/v1/alerts/status"))]);
    const firing = new Map((status.firing || []).map((f) => [f.id, f.triggered_at]));
    const firingCount = alerts.filter((a) => firing.has(a.id)).length;
    count.textContent = `${alerts.length} alert${alerts.length === 1 ? "" : "s"}, ${firingCount} firing`;
    tbody.replaceChildren(...alerts.map((a) => {
      let state = "ok";
      let cls = "ok";
      if (firing.has(a.id)) {
        state = firing.get(a.id) ? `firing since ${fmtTime(firing.get(a.id))}` : "firing";
        cls = "firing";
      } else if (a.active === false) {
        state = "disabled";
        cls = "disabled";
      }
      return el("tr", { "data-alert": a.name },
        el("td", {}, a.name),
        el("td", {}, el("span", { class: "state " + cls, "data-state": cls }, state)),
        el("td", {}, (a.conditions || []).map((c) => el("div", {}, conditionText(c)))),
        el("td", {}, a.description || ""));
    }));
  };
}

function conditionText(c) {
  const where = c.source && c.source !== "*" ? ` source ${c.source}` : (c.tags || []).map((t) => ` ${t.name}=${(t.values || []).join("|")}${t.grouped ? " (grouped)" : ""}`).join("");
  const fn = c.summary_function ? `${c.summary_function} of ` : "";
  const dur = c.duration ? ` for ${c.duration}s` : "";
  if (c.type === "absent") return `${c.metric_name}${where} absent${dur}`;
  return `${fn}${c.metric_name}${where} ${c.type} ${c.threshold}${dur}`;
}

function compositeView(params) {
  const input = el("textarea", { id: "compose", rows: 3, spellcheck: "false", "aria-label": "composite query", placeholder: 'sum(s("http.requests", {"status": "5*"}))' }, params.get("q") || "");
  const box = el("div", { class: "chart", id: "chart" });
  const controls = windowControls(params, () => run(refresh));
  const kind = el("select", { id: "compose-over", "aria-label": "series kind" },
    el("option", { value: "tags", selected: params.get("over") !== "sources" }, "over tagged series"),
    serverInfo.appoptics ? null : el("option", { value: "sources", selected: params.get("over") === "sources" }, "over source series"));
  const form = el("form", { id: "composite-form" }, input, el("p", { class: "controls" }, el("button", { type: "submit" }, "Run"), " ", kind, " ", controls.node));
  view.replaceChildren(el("h1", {}, "Composite query"),
    el("p", { class: "muted" }, 'A composite expression as the API takes it: s("name", {"tag": "pattern"}) over tagged series, s("name", "source pattern") over source series.'), form, box);
  const chart = new Chart(box);
  current.chart = chart;
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    params.set("q", input.value.trim());
    params.set("over", kind.value);
    setHashParams(params);
    run(refresh);
  });
  const refresh = async () => {
    const expr = input.value.trim();
    if (!expr) {
      box.dataset.state = "idle";
      return;
    }
    const w = controls.timeWindow();
    const [series, markers] = await Promise.all([compositeSeries(expr, w.start, w.end, w.resolution, kind.value === "sources"), annotationMarkers(w.start, w.end)]);
    chart.draw(series, markers, w.start, w.end);
  };
  return refresh;
}

// ---- routing and live refresh ----

const current = { refresh: null, chart: null, busy: false };

// run calls a view's refresh, one at a time, and shows its error (or clears the last one).
async function run(refresh) {
  if (current.busy) return;
  current.busy = true;
  try {
    await readServerInfo();
    await refresh();
    showError(null);
    updated.textContent = "updated " + new Date().toLocaleTimeString();
  } catch (err) {
    showError(err);
    const box = document.getElementById("chart");
    if (box) box.dataset.state = "error";
  } finally {
    current.busy = false;
  }
}

function route() {
  if (current.chart) current.chart.destroy();
  current.chart = null;
  const { path, params } = parseHash();
  let section = "metrics";
  if (path.startsWith("/metric/")) current.refresh = metricView(decodeURIComponent(path.slice("/metric/".length)), params);
  else if (path === "/alerts") { section = "alerts"; current.refresh = alertsView(); }
  else if (path === "/composite") { section = "composite"; current.refresh = compositeView(params); }
  else current.refresh = metricsView(params);
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.nav === section));
  run(current.refresh);
}

window.addEventListener("hashchange", route);
setInterval(() => {
  if (liveBox.checked && document.visibilityState === "visible" && current.refresh) run(current.refresh);
}, REFRESH_MS);
route();
