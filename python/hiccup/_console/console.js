// The local console's page: it polls the process's records and draws them.
// Everything from the server is inserted as text, never as markup.

const POLL_MS = 2000;
const POINTS = 60;

function el(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

async function read(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

// Live charts, from the difference between two readings of the metrics.

// The quantile of the observations between two cumulative bucket lists.
function quantile(before, after, q) {
  const counts = after.map(([bound, total], i) => [bound, total - (before[i]?.[1] ?? 0)]);
  const all = counts.length ? counts[counts.length - 1][1] : 0;
  if (all <= 0) return null;
  const wanted = q * all;
  let lower = 0;
  let below = 0;
  for (const [bound, total] of counts) {
    if (total >= wanted) {
      if (bound === null) return lower;
      const share = total === below ? 0 : (wanted - below) / (total - below);
      return lower + (bound - lower) * share;
    }
    lower = bound ?? lower;
    below = total;
  }
  return lower;
}

const charts = [
  { id: "rate", title: "Requests per second", unit: "/s" },
  { id: "p95", title: "p95 latency", unit: "ms" },
  { id: "errors", title: "Error rate", unit: "%" },
  { id: "model", title: "Model p95 latency", unit: "ms" },
];
const series = Object.fromEntries(charts.map((chart) => [chart.id, []]));
let previous;

function drawCharts(breakers) {
  const box = document.getElementById("charts");
  box.replaceChildren(
    ...charts.map((chart) => {
      const points = series[chart.id];
      const last = points.length ? points[points.length - 1] : null;
      const card = el("div", undefined, { class: "chart", "data-testid": `chart-${chart.id}` });
      const label = el("p", `${chart.title} `);
      label.append(el("strong", last === null ? "–" : `${last.toFixed(1)} ${chart.unit}`));
      card.append(label, sparkline(points));
      return card;
    }),
    breakerCard(breakers),
  );
}

function sparkline(points) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${POINTS} 48`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("aria-hidden", "true");
  const top = Math.max(1, ...points.filter((p) => p !== null));
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  const coordinates = points.map((p, i) => `${i},${46 - ((p ?? 0) / top) * 44}`);
  line.setAttribute("points", coordinates.join(" "));
  svg.append(line);
  return svg;
}

function breakerCard(breakers) {
  const card = el("div", undefined, { class: "chart", "data-testid": "chart-breakers" });
  card.append(el("p", "Breakers"));
  const names = Object.keys(breakers).sort();
  if (!names.length) card.append(el("p", "none yet"));
  for (const name of names) card.append(el("p", `${name}: ${breakers[name]}`));
  return card;
}

function push(id, value) {
  const points = series[id];
  points.push(value);
  if (points.length > POINTS) points.shift();
}

async function pollMetrics() {
  const now = await read("/_hiccup/api/metrics");
  if (previous) {
    const seconds = Math.max(now.time - previous.time, 0.001);
    const served = now.http.count - previous.http.count;
    const failed = now.http.errors - previous.http.errors;
    push("rate", served / seconds);
    push("errors", served > 0 ? (100 * failed) / served : 0);
    const p95 = quantile(previous.http.buckets, now.http.buckets, 0.95);
    push("p95", p95 === null ? null : p95 * 1000);
    const model = quantile(previous.model.buckets, now.model.buckets, 0.95);
    push("model", model === null ? null : model * 1000);
  }
  previous = now;
  drawCharts(now.breakers);
}

// Requests, with their lines and trace.

function clock(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString();
}

async function pollRequests() {
  const { requests } = await read("/_hiccup/api/requests");
  const rows = requests.map((request) => {
    const row = el("tr", undefined, { tabindex: "0", "data-request-id": request.request_id });
    if (request.status >= 500) row.className = "failed";
    for (const cell of [
      clock(request.time),
      request.method,
      request.route ?? "unmatched",
      String(request.status),
      request.duration_ms.toFixed(1),
      request.error_code ?? "",
    ]) {
      row.append(el("td", cell));
    }
    const id = el("td");
    id.append(el("code", request.request_id));
    row.append(id);
    const open = () => showRequest(request.request_id);
    row.addEventListener("click", open);
    row.addEventListener("keydown", (event) => {
      if (event.key === "Enter") open();
    });
    return row;
  });
  document.getElementById("requests").replaceChildren(...rows);
}

function lineText(line) {
  const { timestamp, level, logger, event, ...rest } = line;
  const fields = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : "";
  return `${timestamp ?? ""} ${level ?? ""} ${logger ?? ""} ${event ?? ""}${fields}`;
}

function waterfall(trace) {
  if (!trace) return [el("p", "No spans kept for this request.")];
  const spans = trace.spans;
  const start = Math.min(...spans.map((s) => s.start_time_unix_nano));
  const end = Math.max(...spans.map((s) => s.start_time_unix_nano + s.duration_ms * 1e6));
  const whole = Math.max(end - start, 1);
  return [...spans]
    .sort((a, b) => a.start_time_unix_nano - b.start_time_unix_nano)
    .map((span) => {
      const row = el("div", undefined, { class: "span" });
      const left = ((span.start_time_unix_nano - start) / whole) * 100;
      const width = Math.max((span.duration_ms * 1e6 * 100) / whole, 0.5);
      const bar = el("div", undefined, { class: span.status === "error" ? "bar error" : "bar" });
      // Through the style object: the page's policy refuses style attributes.
      bar.style.left = `${left}%`;
      bar.style.width = `${width}%`;
      row.append(bar, el("span", `${span.name} ${span.duration_ms.toFixed(1)} ms`, { class: "label" }));
      return row;
    });
}

async function showRequest(requestId) {
  const { lines, trace } = await read(`/_hiccup/api/requests/${encodeURIComponent(requestId)}`);
  document.getElementById("detail-id").textContent = requestId;
  document.getElementById("waterfall").replaceChildren(...waterfall(trace));
  document.getElementById("lines").replaceChildren(...lines.map((line) => el("li", lineText(line))));
  document.getElementById("detail").hidden = false;
}

async function pollErrors() {
  const { errors } = await read("/_hiccup/api/errors");
  const items = errors.slice(0, 20).map((line) => {
    const { exception } = line;
    const frames = (exception.frames ?? [])
      .map((f) => `  ${f.filename}:${f.lineno} in ${f.function}`)
      .join("\n");
    return el("li", `${line.timestamp} ${line.request_id ?? ""}\n${exception.type}: ${exception.message}\n${frames}`);
  });
  document.getElementById("errors").replaceChildren(...items);
}

async function poll() {
  await Promise.allSettled([pollMetrics(), pollRequests(), pollErrors()]);
  setTimeout(poll, POLL_MS);
}

poll();
