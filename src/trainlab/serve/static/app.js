// trainlab dashboard: draws each page from the JSON endpoints (no framework, no build step).
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
};
const getJSON = async (url) => {
  const response = await fetch(url);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
};
const fmt = (v, digits = 4) => (v === null || v === undefined ? "-" : typeof v === "number" ? Number(v.toPrecision(digits)).toString() : String(v));
const ago = (t) => {
  if (!t) return "-";
  const s = Date.now() / 1000 - t;
  return s < 90 ? `${Math.round(s)} s ago` : s < 5400 ? `${Math.round(s / 60)} min ago` : new Date(t * 1000).toLocaleString();
};
const crumbs = (...links) => { $("#crumbs").replaceChildren(...links.flatMap((l) => [" / ", l])); };

// Smoothing as TensorBoard does it: an exponential moving average, debiased for its first points.
function ema(ys, weight) {
  if (!weight) return ys;
  let last = 0, n = 0;
  return ys.map((y) => {
    if (y === null) return null;
    last = last * weight + (1 - weight) * y;
    n += 1;
    return last / (1 - Math.pow(weight, n));
  });
}

/* ---------- studies ---------- */
async function studiesPage(app) {
  const draw = async () => {
    const studies = await getJSON("/api/studies");
    const rows = studies.map((s) => el("tr", {},
      el("td", {}, el("a", { href: `/study/${s.name}` }, s.name)), el("td", {}, s.kind || "-"),
      el("td", {}, s.runs), el("td", {}, Object.entries(s.status).map(([k, n]) => el("span", { class: `status-${k}` }, `${n} ${k} `))),
      el("td", {}, ago(s.updated_at)), el("td", {}, s.report ? el("a", { href: `/reports/${s.name}/` }, "report") : "-"),
      el("td", { class: "note" }, s.description)));
    app.replaceChildren(el("table", { id: "studies" },
      el("thead", {}, el("tr", {}, ["study", "kind", "runs", "status", "last update", "report", "description"].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows)));
  };
  await draw();
  setInterval(draw, 5000);
}

/* ---------- study ---------- */
const RUN_COLUMNS = [["experiment", "exp"], ["seed", "seed"], ["label", "configuration"], ["status", "status"],
  ["best_value", "best"], ["epochs_done", "epochs"], ["train_seconds", "seconds"], ["params_total", "params"]];

async function studyPage(app, { study }) {
  crumbs(el("a", { href: `/study/${study}` }, study));
  const state = { selected: new Set(), sort: "experiment", up: true, filter: "", data: null, window: null };
  const metricSel = el("select", { id: "metric" });
  const xSel = el("select", { id: "x" }, ["epoch", "step", "seen", "seconds", "flops"].map((x) => el("option", { value: x }, x)));
  const groupSel = el("select", { id: "group", multiple: true, size: 3, title: "config keys to group by (none: a line per configuration)" });
  const aggSel = el("select", { id: "aggregate" }, el("option", { value: "best" }, "best setting per group"),
    el("option", { value: "mean" }, "mean of the group's runs"));
  const logX = el("input", { type: "checkbox", id: "logx" }), logY = el("input", { type: "checkbox", id: "logy" });
  const smooth = el("input", { type: "range", id: "smoothing", min: 0, max: 0.99, step: 0.01, value: 0 });
  const smoothText = el("span", { id: "smoothing-value" }, "0");
  const filter = el("input", { type: "search", id: "filter", placeholder: "filter runs" });
  const note = el("div", { class: "note", id: "curves-note" });
  const plot = el("div", { id: "curves", style: "min-height:480px" });
  const table = el("table", { id: "runs" });
  const links = el("div", { class: "controls" });
  app.replaceChildren(links,
    el("div", { class: "controls" }, el("label", {}, "metric ", metricSel), el("label", {}, "x ", xSel),
      el("label", {}, logX, "log x"), el("label", {}, logY, "log y"),
      el("label", {}, "smoothing ", smooth, smoothText), el("label", {}, "group by ", groupSel), el("label", {}, aggSel)),
    note, plot, el("h2", {}, "Runs"), el("div", { class: "controls" }, filter,
      el("span", { class: "note" }, "tick runs to compare them; click a column to sort")),
    el("div", { class: "tablebox" }, table));

  let traces = [];
  const drawCurves = () => {
    const w = Number(smooth.value);
    smoothText.textContent = w.toFixed(2);
    const data = [], shapes = [];
    traces.forEach((t, i) => {
      const colour = `hsl(${(i * 137) % 360},65%,45%)`;
      if (t.low && t.n > 1) {  // a band needs two seeds or more
        data.push({ x: t.x, y: ema(t.high, w), mode: "lines", line: { width: 0 }, hoverinfo: "skip", showlegend: false, legendgroup: t.name, name: `${t.name} high` });
        data.push({ x: t.x, y: ema(t.low, w), mode: "lines", line: { width: 0 }, fill: "tonexty", fillcolor: colour.replace("hsl", "hsla").replace(")", ",0.18)"), hoverinfo: "skip", showlegend: false, legendgroup: t.name, name: `${t.name} band` });
      }
      const n = t.n ? ` (n=${t.n} ${t.settings > 1 ? "runs" : t.n === 1 ? "seed" : "seeds"})` : "";
      data.push({ x: t.x, y: ema(t.y, w), mode: "lines", line: { color: colour, width: 2 }, legendgroup: t.name,
        name: t.n ? t.name + n : t.name + (t.status === "running" ? " (running)" : "") });
      if (traces.length <= 10) for (const d of t.drops || []) shapes.push({ type: "line", x0: d, x1: d, yref: "paper", y0: 0, y1: 1, line: { dash: "dot", color: colour, width: 1 } });
    });
    Plotly.react(plot, data, {
      margin: { t: 20, r: 10 }, legend: { orientation: "h", y: -0.2 }, shapes, uirevision: "keep",
      xaxis: { title: { text: xSel.value }, type: logX.checked ? "log" : "linear" },
      yaxis: { title: { text: metricSel.value }, type: logY.checked ? "log" : "linear" },
    }, { displaylogo: false, responsive: true });
  };
  const loadCurves = async () => {
    const keys = [...groupSel.selectedOptions].map((o) => o.value);
    aggSel.disabled = !keys.length;
    const params = new URLSearchParams({ metric: metricSel.value, x: xSel.value, group: keys.join(","), aggregate: aggSel.value, runs: [...state.selected].join(",") });
    if (state.window) { params.set("x_min", state.window[0]); params.set("x_max", state.window[1]); }  // a zoom: every round in it
    const body = await getJSON(`/api/study/${study}/curves?${params}`);
    traces = body.traces;
    note.textContent = state.selected.size && !keys.length ? "the ticked runs, one line each"
      : body.grouped ? `${body.runs} runs grouped by ${keys.join(", ")}: ` + (body.aggregate === "best"
        ? "each group's best setting by this metric, mean and 95 % band over its seeds"
        : "mean and 95 % band over each group's runs, all its settings together")
      : `${body.shown < body.configurations ? `the best ${body.shown} of ` : ""}${body.configurations} configurations: mean and 95 % band over each one's seeds (tick runs below to see them one by one)`;
    drawCurves();
  };
  let drawn = "";  // the ids of the rows on the page, in order
  const shownRuns = () => {
    const runs = state.data.runs.filter((r) => !state.filter || `${r.label} ${r.status} ${r.id} ${r.experiment}`.toLowerCase().includes(state.filter));
    return runs.sort((a, b) => { const x = a[state.sort], y = b[state.sort]; const c = x === y ? 0 : x === null ? 1 : y === null ? -1 : x < y ? -1 : 1; return state.up ? c : -c; });
  };
  const row = (r) => el("tr", { class: state.selected.has(r.id) ? "selected" : "", "data-run": r.id },
    el("td", {}, el("input", { type: "checkbox", class: "pick", checked: state.selected.has(r.id), onchange: (e) => {
      e.target.checked ? state.selected.add(r.id) : state.selected.delete(r.id);
      e.target.closest("tr").classList.toggle("selected", e.target.checked); loadCurves(); } })),
    RUN_COLUMNS.map(([key]) => el("td", { class: key === "status" ? `status-${r.status}` : "" }, fmt(r[key]))),
    el("td", {}, el("a", { href: `/run/${r.id}` }, r.id)));
  const drawTable = () => {
    const runs = shownRuns();
    const head = el("tr", {}, el("th", {}, ""), RUN_COLUMNS.map(([key, title]) => el("th", {
      class: state.sort === key ? `sorted${state.up ? " up" : ""}` : "", "data-key": key,
      onclick: () => { state.up = state.sort === key ? !state.up : true; state.sort = key; drawTable(); } }, title)), el("th", {}, "run"));
    table.replaceChildren(el("thead", {}, head), el("tbody", {}, runs.map(row)));
    drawn = runs.map((r) => r.id).join();
  };
  const refreshTable = (before) => {  // only the rows whose run changed, while the rows and their order stay
    const runs = shownRuns();
    if (runs.map((r) => r.id).join() !== drawn) return drawTable();
    const old = new Map(before.map((r) => [r.id, JSON.stringify(r)]));
    for (const r of runs) if (old.get(r.id) !== JSON.stringify(r)) table.querySelector(`tr[data-run="${r.id}"]`).replaceWith(row(r));
  };
  const loadStudy = async () => {
    const before = state.data && state.data.runs;
    state.data = await getJSON(`/api/study/${study}`);
    const d = state.data;
    if (!metricSel.options.length) {
      for (const m of d.metrics) metricSel.append(el("option", { value: m }, m));
      metricSel.value = d.metrics.includes(`valid/${d.main_metric}`) ? `valid/${d.main_metric}` : d.metrics[0];
      for (const k of d.keys) groupSel.append(el("option", { value: k }, k));
      links.replaceChildren(d.report ? el("a", { href: `/reports/${study}/` }, "static report") : "",
        el("a", { href: `/study/${study}/landscapes` }, "loss landscapes"), el("span", { class: "note" }, d.spec.description || ""));
    }
    before ? refreshTable(before) : drawTable();
  };
  await loadStudy();
  await loadCurves();
  for (const input of [metricSel, xSel, groupSel, aggSel]) input.addEventListener("change", () => { state.window = null; loadCurves(); });
  plot.on("plotly_relayout", (ev) => {  // zooming in asks the server for the range at full resolution
    const lo = ev["xaxis.range[0]"], hi = ev["xaxis.range[1]"];
    const next = lo !== undefined && hi !== undefined ? (logX.checked ? [10 ** lo, 10 ** hi] : [lo, hi]) : ev["xaxis.autorange"] ? null : undefined;
    if (next === undefined || JSON.stringify(next) === JSON.stringify(state.window)) return;
    state.window = next;
    loadCurves();
  });
  for (const input of [logX, logY]) input.addEventListener("change", drawCurves);
  smooth.addEventListener("input", drawCurves);
  filter.addEventListener("input", () => { state.filter = filter.value.toLowerCase(); drawTable(); });
  const live = new EventSource(`/api/study/${study}/events`);  // the server says when the study changed
  let busy = false;
  live.addEventListener("change", async () => {
    if (busy) return;
    busy = true;
    try { await loadStudy(); await loadCurves(); } finally { busy = false; }
  });
}

/* ---------- run ---------- */
async function runPage(app, { run }) {
  const d = await getJSON(`/api/run/${run}`);
  const r = d.run;
  crumbs(el("a", { href: `/run/${run}` }, run));
  const columns = d.metrics.length ? Object.keys(d.metrics[0]) : [];
  const hardware = d.manifest ? { git: d.manifest.git, versions: d.manifest.versions, device: d.manifest.device_name,
    threads: d.manifest.threads, started: d.manifest.started_at, finished: d.manifest.finished_at } : {};
  app.replaceChildren(
    el("p", {}, el("span", { class: `status-${r.status}` }, r.status), ` · ${r.epochs_done} epochs · best ${r.main_metric} ${fmt(r.best_value)} at epoch ${fmt(r.best_epoch)}`
      + ` · ${fmt(r.params_total)} parameters · ${fmt(r.train_seconds)} s training`),
    r.parent_id ? el("p", {}, `${r.relation || "from"} `, el("a", { href: `/run/${r.parent_id}` }, r.parent_id)) : "",
    el("h2", {}, "Config"), el("pre", { id: "config" }, JSON.stringify(d.config, null, 1)),
    el("h2", {}, "Manifest"), el("pre", { id: "manifest" }, JSON.stringify(hardware, null, 1)),
    el("h2", {}, "Resources and facts"), el("pre", {}, JSON.stringify(d.facts, null, 1)),
    el("h2", {}, "Metrics per epoch"), el("div", { class: "tablebox" }, el("table", { id: "metrics" },
      el("thead", {}, el("tr", {}, columns.map((c) => el("th", {}, c)))),
      el("tbody", {}, d.metrics.map((row) => el("tr", {}, columns.map((c) => el("td", {}, fmt(row[c])))))))),
    el("h2", {}, "Artifacts"), el("ul", {}, d.artifacts.map((a) => el("li", {}, `${a.kind}: ${a.path}`))),
    d.children.length ? el("h2", {}, "Runs from this one") : "",
    el("ul", {}, d.children.map((c) => el("li", {}, `${c.relation || ""} `, el("a", { href: `/run/${c.id}` }, c.id)))));
}

/* ---------- landscapes ---------- */
async function landscapesPage(app, { study }) {
  if (study) crumbs(el("a", { href: `/study/${study}` }, study), el("a", { href: `/study/${study}/landscapes` }, "landscapes"));
  const list = study ? await getJSON(`/api/study/${study}/landscapes`) : [];
  const name = (l) => `${l.label || l.run} [${l.run.slice(0, 8)}] ${l.dirs}, range ${JSON.stringify(l.range)}, ${l.checkpoint}${l.epochs ? ", every epoch" : ""}`;
  const pick = el("select", { id: "landscape" }, list.map((l, i) => el("option", { value: i }, name(l))));
  const other = el("select", { id: "compare" }, el("option", { value: "" }, "nothing"), list.map((l, i) => el("option", { value: i }, name(l))));
  const metric = el("select", { id: "surface-metric" });
  const epoch = el("input", { type: "range", id: "epoch", min: 0, max: 0, step: 1, value: 0 });
  const epochText = el("span", { id: "epoch-value" });
  const ranges = el("span", { id: "ranges" });
  const upload = el("input", { type: "file", id: "upload", accept: ".csv,text/csv" });
  const message = el("div", { class: "note", id: "landscape-note" });
  const surface = el("div", { id: "surface" }), contour = el("div", { id: "contour" }), contour2 = el("div", { id: "contour2" });
  app.replaceChildren(
    el("div", { class: "controls" }, list.length ? [el("label", {}, "landscape ", pick), el("label", {}, "compare with ", other)]
      : el("span", { class: "note" }, study ? "no landscape computed for this study's runs yet (trainlab landscape RUN)" : ""),
      el("label", {}, "metric ", metric), el("label", {}, "epoch ", epoch, epochText), ranges,
      el("label", {}, "view a CSV (x, y, metrics) ", upload)),
    message, el("div", { class: "plots" }, surface, contour, contour2));

  let current = null, second = null;
  const frameKeys = (d) => Object.keys(d.frames);
  const frameOf = (d) => d.frames[frameKeys(d)[Math.min(Number(epoch.value), frameKeys(d).length - 1)]];
  const draw = () => {
    if (!current) return;
    const m = metric.value, keys = frameKeys(current);
    epochText.textContent = keys[Math.min(Number(epoch.value), keys.length - 1)];
    const z = frameOf(current)[m];
    const zs = [z, ...(second ? [frameOf(second)[m]] : [])].flat(2).filter((v) => v !== null);
    const scale = { cmin: Math.min(...zs), cmax: Math.max(...zs), zmin: Math.min(...zs), zmax: Math.max(...zs) };
    const path = current.trajectory.filter((p) => keys.length === 1 || p[0] <= Number(epochText.textContent));
    Plotly.react(surface, [{ type: "surface", x: current.xs, y: current.ys, z, colorscale: "Viridis", ...scale }],
      { margin: { t: 24 }, title: { text: `${m} surface`, font: { size: 13 } }, scene: { xaxis: { title: { text: "direction 1" } }, yaxis: { title: { text: "direction 2" } }, zaxis: { title: { text: m } } } });
    const contourOf = (d, title) => [{ type: "contour", x: d.xs, y: d.ys, z: frameOf(d)[m], colorscale: "Viridis", ...scale, contours: { coloring: "heatmap" } },
      { type: "scatter", x: path.map((p) => p[1]), y: path.map((p) => p[2]), mode: "lines+markers", line: { color: "red" }, name: "trajectory" }];
    Plotly.react(contour, contourOf(current), { margin: { t: 24 }, title: { text: "contour and trajectory", font: { size: 13 } }, showlegend: false });
    if (second) Plotly.react(contour2, contourOf(second).slice(0, 1), { margin: { t: 24 }, title: { text: "compared (same colour scale)", font: { size: 13 } } });
    else Plotly.purge(contour2);
  };
  const show = (d) => {
    current = d;
    const keep = metric.value;
    metric.replaceChildren(...d.metrics.map((m) => el("option", { value: m }, m)));
    if (d.metrics.includes(keep)) metric.value = keep;
    epoch.max = frameKeys(d).length - 1;
    epoch.value = epoch.max;
    epoch.disabled = frameKeys(d).length < 2;
    draw();
  };
  const load = async (i) => getJSON(`/api/landscape/${list[i].run}/${list[i].key}`);
  const choose = async () => {
    const l = list[Number(pick.value)];
    const siblings = list.map((s, i) => [s, i]).filter(([s]) => s.run === l.run && s.dirs === l.dirs && s.checkpoint === l.checkpoint);
    ranges.replaceChildren(...(siblings.length > 1 ? siblings.map(([s, i]) => el("button", { class: "range", onclick: () => { pick.value = i; choose(); } },
      `range ${JSON.stringify(s.range)}${Number(pick.value) === i ? " ✓" : ""}`)) : []));  // global / local views of one run
    show(await load(Number(pick.value)));
  };
  pick.addEventListener("change", choose);
  other.addEventListener("change", async () => { second = other.value === "" ? null : await load(Number(other.value)); draw(); });
  metric.addEventListener("change", draw);
  epoch.addEventListener("input", draw);
  upload.addEventListener("change", async () => {
    const file = upload.files[0];
    if (!file) return;
    const response = await fetch("/api/landscape/upload", { method: "POST", body: await file.text(), headers: { "Content-Type": "text/csv" } });
    const body = await response.json();
    message.textContent = response.ok ? `${file.name}: ${frameKeys(body).length} frame(s), metrics ${body.metrics.join(", ")} (not stored)` : body.error;
    message.className = response.ok ? "note" : "note error";
    if (response.ok) { second = null; show(body); }
  });
  if (list.length) await choose();
}

const PAGES = { studies: studiesPage, study: studyPage, run: runPage, landscapes: landscapesPage };
document.addEventListener("DOMContentLoaded", async () => {
  const app = $("#app");
  try {
    await PAGES[document.body.dataset.page](app, JSON.parse(document.body.dataset.args));
  } catch (err) {
    app.replaceChildren(el("p", { class: "error" }, String(err.message || err)));
  }
  document.body.dataset.ready = "yes";
});
