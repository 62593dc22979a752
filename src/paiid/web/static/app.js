// paiid dashboard: plain JavaScript, no build step. Talks only to this server's API.
// Flow: load symbols -> pick one -> fetch /api/ai/recommendations and /api/ai/chart together ->
// render regime, ranked strategies, chart with patterns; the performance panel loads independently.
// The watchlist tab scans many symbols at once (/api/ml/scan); a row opens the symbol view.
// Adopt / Pass on a recommendation writes the decision journal (POST /api/journal, needs the API key)
// and refreshes the performance panel, whose journal section shows the adoption rate and outcomes.
"use strict";

const $ = (sel) => document.querySelector(sel);
const COLORS = { bullish: "#26a69a", bearish: "#ef5350", neutral: "#9e9e9e" };
const PLOT_LAYOUT = {
  paper_bgcolor: "#171e26", plot_bgcolor: "#171e26", font: { color: "#dfe6ee", size: 11 },
  margin: { l: 50, r: 20, t: 10, b: 30 }, showlegend: false,
};

function pct(x, digits = 0) {
  return x == null || Number.isNaN(x) ? "—" : `${(x * 100).toFixed(digits)}%`;
}
function num(x, digits = 2) {
  return x == null || Number.isNaN(x) ? "—" : Number(x).toFixed(digits);
}
function human(s) {
  return String(s ?? "—").replace(/[_-]+/g, " ");
}
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "style") node.setAttribute("style", v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

async function getJSON(url, headers = {}) {
  const r = await fetch(url, { headers });
  let body = null;
  try { body = await r.json(); } catch { /* not JSON */ }
  if (!r.ok) throw new Error((body && body.detail) || `${r.status} ${r.statusText} for ${url}`);
  return body;
}

async function postJSON(url, payload, headers = {}) {
  // the same error contract as getJSON: the API's `detail` text, else the HTTP status
  const r = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(payload) });
  let body = null;
  try { body = await r.json(); } catch { /* not JSON */ }
  if (!r.ok) throw new Error((body && body.detail) || `${r.status} ${r.statusText} for ${url}`);
  return body;
}

function showError(msg) {
  const box = $("#error");
  box.textContent = msg;
  box.hidden = !msg;
}

// ------------------------------------------------------------------------------- symbols

async function loadSymbols() {
  const { symbols } = await getJSON("/api/data/symbols");
  const sel = $("#symbol");
  sel.replaceChildren(...symbols.map((s) =>
    el("option", { value: s.symbol }, `${s.symbol} · ${s.timeframe}`)));
  const wanted = new URLSearchParams(location.search).get("symbol");
  if (wanted && symbols.some((s) => s.symbol === wanted.toUpperCase())) sel.value = wanted.toUpperCase();
  else if (symbols.some((s) => s.symbol === "SPX")) sel.value = "SPX";
  return symbols;
}

// ------------------------------------------------------------------------------- honesty notes
// Answers may carry `typicality` ({percentile, unusual, note, ...}), `model` ({name, version,
// trained_through}), a recommendation `stand_aside` verdict and a trade `informative` flag. Any of them
// may be absent (an older server, a model without the check): display only what is there.

function typicalityBlock(t) {
  return t && typeof t === "object" && "unusual" in t ? t : null;
}

function typicalityBadge(t, what) {
  // a warning badge (with its note) for unusual inputs, nothing otherwise
  const typ = typicalityBlock(t);
  if (!typ || !typ.unusual) return "";
  return el("div", { class: "warn-badge", "data-typicality": what, title: typ.note || "" },
    el("b", {}, "⚠ unusual inputs"), " ", el("span", { class: "note" }, typ.note || ""));
}

function modelLine(m) {
  // "selector v3 · trained through 2018-12-31" from a {name, version, trained_through} block
  if (!m || typeof m !== "object" || m.version == null) return "";
  const through = m.trained_through ? ` · trained through ${String(m.trained_through).slice(0, 10)}` : "";
  return el("span", { class: "model-line", "data-model": m.name || "" }, `${m.name || "model"} v${m.version}${through}`);
}

function servedModel(reco, name, own) {
  return (own && own.model) || (reco.models || {})[name] || null;
}

function recommendationPart(reco) {
  // the selector's own verdicts: in `recommendation` (aggregate answer) or at the top level
  // (the recommend-strategy answer's shape)
  const part = reco.recommendation && typeof reco.recommendation === "object" ? reco.recommendation : {};
  const map = reco.typicality && !typicalityBlock(reco.typicality) ? reco.typicality : {};
  return {
    stand_aside: part.stand_aside ?? reco.stand_aside,
    stand_aside_reason: part.stand_aside_reason ?? reco.stand_aside_reason,
    typicality: typicalityBlock(part.typicality) || typicalityBlock(map.recommendation) ||
      typicalityBlock(reco.typicality),
  };
}

function patternsTypicality(reco, chart) {
  const map = reco.typicality && !typicalityBlock(reco.typicality) ? reco.typicality : {};
  return typicalityBlock(reco.patterns_typicality) || typicalityBlock(map.patterns) ||
    typicalityBlock((chart || {}).typicality);
}

function setSlot(sel, ...nodes) {
  const slot = $(sel);
  if (slot) slot.replaceChildren(...nodes.filter((n) => n));
}

// ------------------------------------------------------------------------------- regime

function renderRegime(reco) {
  const r = reco.regime || {};
  const badge = $("#regime-badge");
  badge.textContent = human(r.current_regime);
  badge.className = `badge ${r.current_regime || ""}`;
  $("#regime-confidence").innerHTML = `confidence <b>${pct(r.confidence)}</b>`;
  const f = r.features || {};
  const rows = [
    ["Volatility", f.volatility == null ? "—" : pct(f.volatility, 1) + " ann."],
    ["Trend strength", num(f.trend_strength)],
    ["Volume trend", human(f.volume_trend)],
  ];
  $("#regime-features").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  $("#regime-families").textContent = (r.recommended_strategies || []).map(human).join(", ") || "—";
  const typ = typicalityBlock(r.typicality);
  setSlot("#regime-typicality", typicalityBadge(typ, "regime"));
  setSlot("#regime-model", modelLine(servedModel(reco, "regime", r)));
}

// ------------------------------------------------------------------------------- strategies

function renderVerdict(reco) {
  const part = recommendationPart(reco);
  const box = $("#stand-aside");
  if (part.stand_aside === true) {
    const why = String(part.stand_aside_reason || "").replace(/^no template has an edge now:\s*/i, "");
    box.replaceChildren(el("div", { class: "verdict-title" }, "no template has an edge now — stand aside"),
      why ? el("div", { class: "verdict-reason" }, why) : "",
      el("div", { class: "muted small" }, "the ranking below is still the selector's, for reference"));
    box.hidden = false;
  } else {
    box.replaceChildren();
    box.hidden = true;
  }
  box.dataset.standAside = part.stand_aside === true ? "true" : part.stand_aside === false ? "false" : "";
  setSlot("#reco-typicality", typicalityBadge(part.typicality, "recommendation"));
  setSlot("#reco-model", modelLine(servedModel(reco, "selector", null)));
}

function tradeNotes(t, reco) {
  // a trade answer with `informative: false` only repeats the base rate: say so beside its odds
  const out = [];
  if (t.informative === false) {
    out.push(el("div", { class: "uninformative", title: t.note || "" },
      "no information beyond the base rate", t.note ? el("span", { class: "muted" }, ` — ${t.note}`) : ""));
  }
  out.push(typicalityBadge(t.typicality, "trade"));
  const m = modelLine(servedModel(reco, "tradeprob", t));
  if (m) out.push(el("div", { class: "muted small" }, m));
  return out.filter((n) => n);
}

function finite(x) {
  return typeof x === "number" && Number.isFinite(x) ? x : null;
}

function tradeLevels(t) {
  // the trade answer's stop and target (its entry is "next bar's open": no price yet)
  const b = (t && t.barriers) || {};
  return { entry: finite(b.entry), stop: finite(b.stop_loss), target: finite(b.profit_take) };
}

function journalActions(reco, s) {
  // Adopt / Pass for one recommendation; both need the answer's prediction-log id to link the decision to
  const name = human(s.strategy_id);
  const logged = reco.prediction_id != null || (s.trade && s.trade.prediction_id != null);
  const lv = tradeLevels(s.trade);
  const levels = s.trade ? `, ${s.side}` + (lv.stop != null ? `, stop ${num(lv.stop)}` : "") +
    (lv.target != null ? `, target ${num(lv.target)}` : "") : `, ${s.side}`;
  const attrs = (what) => ({ type: "button", class: `journal-btn ${what}`, "data-action": what,
    "aria-label": what === "adopt" ? `Adopt ${name}${levels}` : `Pass: no trade on this answer (about ${name})`,
    ...(logged ? {} : { disabled: "", title: "this answer was not logged: no decision can be linked to it" }) });
  return el("div", { class: "journal-actions", role: "group", "aria-label": `Your decision on ${name}` },
    el("button", attrs("adopt"), "Adopt"), el("button", attrs("pass"), "Pass"),
    el("span", { class: "journal-status", role: "status", "aria-live": "polite" }));
}

function renderStrategies(reco) {
  renderVerdict(reco);
  shownReco = reco;
  const list = $("#strategies");
  $("#ranking").textContent = reco.ranking === "manual"
    ? "· ranked by the manual rule book (A/B group manual)"
    : "· ranked by the ML selector";
  list.replaceChildren(...(reco.strategies || []).map((s) => {
    const t = s.trade || {};
    const p = Math.max(0, Math.min(1, s.probability || 0));
    return el("li", { class: "strategy", "data-strategy": s.strategy_id },
      el("div", { class: "title" },
        el("span", { class: "rank" }, `#${s.rank}`),
        el("span", { class: "name" }, human(s.strategy_id)), " ",
        el("span", { class: "family" }, human(s.family))),
      el("div", { class: "row" },
        el("div", { class: "probbar", title: "selector probability" },
          el("div", { style: `width:${(p * 100).toFixed(1)}%` })),
        el("span", { class: "prob" }, pct(s.probability))),
      el("div", { class: "stats" },
        el("span", {}, "exp. return ", el("b", {}, pct(s.expected_return, 2))),
        el("span", {}, "risk ", el("b", {}, num(s.risk_score, 0)), "/100"),
        el("span", {}, "now ", el("b", { class: `side-${s.side}` }, s.current_position === 0 ? "flat" : s.side)),
        s.trade ? el("span", { class: "odds" }, `win odds (${t.side}, ${t.horizon_bars} bars) `,
          el("b", {}, pct(t.win_probability))) : "",
        s.trade && tradeLevels(t).stop != null ? el("span", { class: "levels" },
          "stop ", el("b", {}, num(tradeLevels(t).stop)), " · target ", el("b", {}, num(tradeLevels(t).target)))
          : ""),
      ...(s.trade ? tradeNotes(t, reco) : []),
      el("div", { class: "reason" }, s.reason || ""),
      journalActions(reco, s));
  }));
}

// ------------------------------------------------------------------------------- chart

function priceRange(bars, start, end) {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < bars.date.length; i++) {
    const d = bars.date[i];
    if (d >= start && d <= end) { lo = Math.min(lo, bars.low[i]); hi = Math.max(hi, bars.high[i]); }
  }
  return Number.isFinite(lo) ? [lo, hi] : null;
}

function renderChart(chart) {
  // chart: /api/ai/chart -> bars as columns + patterns found in the window (`active` = reported now)
  const first = chart.date[0], last = chart.date[chart.date.length - 1];
  const shapes = [], annotations = [], lines = [];
  for (const p of chart.patterns || []) {
    const start = p.start_date && p.start_date > first ? p.start_date : first;
    const end = p.end_date || last;
    const color = COLORS[p.signal] || COLORS.neutral;
    const range = priceRange(chart, start, end) || [Math.min(...chart.low), Math.max(...chart.high)];
    shapes.push({ type: "rect", xref: "x", yref: "y", x0: start, x1: end, y0: range[0], y1: range[1],
      line: { color, width: p.active ? 2 : 1, dash: p.active ? "solid" : "dot" }, fillcolor: color,
      opacity: p.active ? 0.25 : 0.12 });
    annotations.push({ x: end, y: range[1], xref: "x", yref: "y", text: `${human(p.type)} ${pct(p.confidence)}`,
      showarrow: true, arrowhead: 0, ax: 0, ay: -20, font: { color, size: p.active ? 12 : 10 },
      bgcolor: "#171e26", opacity: p.active ? 1 : 0.8 });
    const pts = (p.points || []).filter((q) => q.date >= first);
    if (pts.length > 1) {
      lines.push({ type: "scatter", mode: "lines+markers", x: pts.map((q) => q.date), y: pts.map((q) => q.price),
        line: { color, width: p.active ? 2 : 1 }, marker: { size: 4 }, hoverinfo: "text", text: human(p.type),
        name: p.type });
    }
    if (p.active) {
      for (const [key, dash] of [["target_price", "dot"], ["stop_loss", "dash"]]) {
        if (p[key] == null) continue;
        shapes.push({ type: "line", xref: "x", yref: "y", x0: end, x1: last, y0: p[key], y1: p[key],
          line: { color: key === "target_price" ? color : "#ef9a9a", width: 1, dash } });
      }
    }
  }
  const trace = {
    type: "candlestick", x: chart.date, open: chart.open, high: chart.high, low: chart.low, close: chart.close,
    increasing: { line: { color: COLORS.bullish } }, decreasing: { line: { color: COLORS.bearish } },
    name: chart.symbol,
  };
  const layout = {
    ...PLOT_LAYOUT, shapes, annotations,
    xaxis: { rangeslider: { visible: false }, gridcolor: "#26313d", type: "date" },
    yaxis: { gridcolor: "#26313d", fixedrange: false },
  };
  window.Plotly.react("chart", [trace, ...lines], layout, { responsive: true, displaylogo: false });

  const rows = [...(chart.patterns || [])].sort((a, b) => (b.end_date || "").localeCompare(a.end_date || ""));
  $("#patterns tbody").replaceChildren(...(rows.length ? rows.map((p) => el("tr", { "data-pattern": p.type },
    el("td", {}, human(p.type), p.active ? el("span", { class: "pill active" }, "active") : ""),
    el("td", { class: p.signal }, p.signal), el("td", {}, pct(p.confidence)),
    el("td", {}, num(p.target_price)), el("td", {}, num(p.stop_loss)), el("td", {}, pct(p.historical_success_rate)),
    el("td", {}, (p.start_date || "").slice(0, 10)), el("td", {}, (p.end_date || "").slice(0, 10)))) :
    [el("tr", {}, el("td", { colspan: "8", class: "muted" }, "no pattern detected in this window"))]));
}

// ------------------------------------------------------------------------------- performance

function renderPerformance(perf) {
  // shape: paiid.engine.tracking.performance_report()
  const counts = perf.predictions || {};
  const overall = (perf.accuracy || {}).overall || {};
  const cal = perf.calibration || {};
  const summary = [
    ["Predictions logged", counts.total ?? "—"],
    ["Resolved / pending", `${counts.resolved ?? 0} / ${counts.pending ?? 0}`],
    ["Live accuracy", overall.accuracy == null ? "— (no resolved calls yet)" :
      `${pct(overall.accuracy, 1)} (n=${overall.n}; always-long ${pct(overall.baseline_always_long, 1)})`],
    ["Brier score", cal.brier == null ? "—" : `${num(cal.brier, 3)} (base rate ${num(cal.baseline_brier, 3)})`],
  ];
  $("#perf-summary").replaceChildren(...summary.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));

  const ab = perf.ab_test || {};
  const groups = Object.entries(ab.groups || {});
  $("#ab-table tbody").replaceChildren(...(groups.length ? groups.map(([name, g]) => el("tr", { "data-group": name },
    el("td", {}, name), el("td", {}, g.users ?? "—"), el("td", {}, g.resolved ?? 0),
    el("td", {}, pct(g.accuracy, 1)), el("td", {}, pct(g.mean_signed_return, 2)))) :
    [el("tr", {}, el("td", { colspan: "5", class: "muted" }, "no A/B data yet"))]));
  const test = ab.accuracy_test || {};
  $("#ab-test").textContent = test.p_value == null ? (test.note || "") :
    `${test.test}: ml − manual = ${pct(test.difference_ml_minus_manual, 1)}, p = ${num(test.p_value, 3)}` +
    (test.significant ? " (significant)" : " (not significant)");

  const bins = cal.bins || [];
  const traces = [
    { x: [0, 1], y: [0, 1], mode: "lines", line: { color: "#8a98a8", dash: "dot" }, name: "perfect" },
    { x: bins.map((b) => b.mean_predicted), y: bins.map((b) => b.realized_frequency), mode: "lines+markers",
      line: { color: "#4da3ff" }, marker: { size: bins.map((b) => 6 + Math.min(14, Math.sqrt(b.n))) },
      text: bins.map((b) => `n=${b.n}`), name: "live" },
  ];
  window.Plotly.react("calibration", traces, {
    ...PLOT_LAYOUT, margin: { l: 45, r: 10, t: 28, b: 40 },
    title: { text: bins.length ? "calibration of logged probabilities" : "calibration: no resolved predictions yet",
      font: { size: 12 } },
    xaxis: { title: { text: "predicted" }, range: [0, 1], gridcolor: "#26313d" },
    yaxis: { title: { text: "observed" }, range: [0, 1], gridcolor: "#26313d" },
  }, { displaylogo: false, responsive: true });
}

function ciBand(ci, asPct = true) {
  // "21–100%" from [0.21, 1.0] (or "0.12–0.80" for a non-rate); "" without an interval
  if (!Array.isArray(ci) || ci.length !== 2 || ci[0] == null || ci[1] == null) return "";
  return asPct ? `${(ci[0] * 100).toFixed(0)}–${(ci[1] * 100).toFixed(0)}%` : `${num(ci[0])}–${num(ci[1])}`;
}

function rateText(r) {
  // an adoption block {rate, ci, n, adopted} as "67% (95% CI 21–94%, n=3)"
  if (!r || r.rate == null) return r && r.n ? `— (n=${r.n})` : "—";
  const band = ciBand(r.ci);
  return `${pct(r.rate)} (${band ? `95% CI ${band}, ` : ""}n=${r.n})`;
}

function intervalText(block, asPct = true) {
  // a paiid.metrics Interval ({estimate, ci95, ...}) as "0.45% (−0.10% to 1.02%)"
  if (!block || block.estimate == null) return "—";
  const fmt = (x) => (asPct ? pct(x, 2) : num(x, 3));
  const ci = block.ci95;
  return Array.isArray(ci) && ci[0] != null && ci[1] != null
    ? `${fmt(block.estimate)} (${fmt(ci[0])} to ${fmt(ci[1])})` : fmt(block.estimate);
}

function adoptionTable(title, blocks, what) {
  const rows = Object.entries(blocks || {});
  if (!rows.length) return "";
  return el("div", { class: "journal-block", "data-journal-table": what },
    el("h4", {}, title),
    el("table", { class: "ab" },
      el("thead", {}, el("tr", {}, el("th", {}, what[0].toUpperCase() + what.slice(1)), el("th", {}, "Adopted / n"),
        el("th", {}, "Adoption (95% CI)"))),
      el("tbody", {}, ...rows.map(([name, r]) => el("tr", { "data-key": name },
        el("td", {}, human(name)), el("td", {}, `${(r || {}).adopted ?? 0} / ${(r || {}).n ?? 0}`),
        el("td", {}, rateText(r)))))));
}

const OUTCOME_NAMES = { adopted: "ML-adopted (top pick)", adopted_other: "adopted another template",
  manual: "manual trades", passed: "passed (what it would have earned)" };

function differenceLine(d) {
  if (!d || typeof d !== "object") return "";
  const what = `${human(d.a)} vs ${human(d.b)}: `;
  if (d.win_rate_p_value == null) return el("li", {}, what + (d.note || "no test yet"));
  const signed = (x, digits) => `${x >= 0 ? "+" : ""}${num(100 * x, digits)}`;
  return el("li", {}, what + `win rate ${signed(d.win_rate_difference, 1)} points ` +
    `(${d.win_rate_test || "test"}, p = ${num(d.win_rate_p_value, 3)}), mean return ` +
    `${signed(d.return_difference, 2)} points (${d.return_test || "test"}, ` +
    `p = ${num(d.return_p_value, 3)}) — ${d.significant ? "significant" : "not significant"}`);
}

function outcomesTable(outcomes) {
  // ML-adopted vs manual trades vs passed advice: win rate (Wilson), mean return and Sharpe (bootstrap)
  const groups = Object.entries((outcomes || {}).groups || {});
  if (!groups.length) return "";
  const diffs = Object.values((outcomes || {}).differences || {}).map(differenceLine).filter((n) => n);
  return el("div", { class: "journal-block wide", "data-journal-table": "outcomes" },
    el("h4", {}, "Outcomes: ML-adopted vs manual trades vs passed recommendations"),
    el("table", { class: "ab" },
      el("thead", {}, el("tr", {}, el("th", {}, "Decision"), el("th", {}, "Entries"),
        el("th", {}, "Resolved / open"), el("th", {}, "Win rate (95% CI)"),
        el("th", {}, "Mean return (95% CI)"), el("th", {}, "Sharpe per trade (95% CI)"))),
      el("tbody", {}, ...groups.map(([name, g]) => el("tr", { "data-outcome": name },
        el("td", {}, OUTCOME_NAMES[name] || human(name)), el("td", {}, g.entries ?? 0),
        el("td", {}, `${g.resolved ?? 0} / ${g.open ?? 0}`),
        el("td", {}, g.win_rate == null ? "—" : `${pct(g.win_rate, 1)}` +
          (ciBand(g.win_rate_ci) ? ` (${ciBand(g.win_rate_ci)})` : "")),
        el("td", {}, intervalText(g.mean_return)),
        el("td", {}, intervalText(g.sharpe_per_trade, false)))))),
    diffs.length ? el("ul", { class: "journal-tests small" }, ...diffs) : "",
    outcomes.basis ? el("div", { class: "muted small" }, outcomes.basis) : "");
}

function calibrationLine(cal) {
  // the win probability shown with each answer against the journalled trade's outcome
  if (!cal || typeof cal !== "object") return "";
  const text = cal.n ? `mean shown ${pct(cal.mean_shown, 1)} vs ${pct(cal.observed, 1)} won on ${cal.n} ` +
    `trades; Brier ${num(cal.brier, 3)} (always the observed rate: ${num(cal.baseline_brier, 3)})`
    : "no resolved journalled trade had a win probability shown with it yet";
  return el("div", { class: "journal-block wide small", "data-journal-table": "calibration" },
    el("h4", {}, "Calibration of the shown win probability"), el("span", {}, text),
    cal.basis ? el("div", { class: "muted" }, cal.basis) : "");
}

function renderJournal(j) {
  // shape: the performance report's `journal` block (adoption with Wilson intervals, outcomes, calibration)
  const box = $("#journal");
  $("#journal-simulated").hidden = !(j && j.simulated === true);
  box.dataset.simulated = j && j.simulated === true ? "true" : "false";
  if (!j || typeof j !== "object") {
    $("#journal-summary").replaceChildren(el("dt", {}, "Adoption rate"),
      el("dd", { id: "journal-adoption", "data-n": "0" }, "— (this server reports no decision journal)"));
    $("#journal-tables").replaceChildren();
    $("#journal-sentences").replaceChildren();
    return;
  }
  const a = j.adoption || {};
  const none = !j.entries || !a.n;
  $("#journal-summary").replaceChildren(
    el("dt", {}, "Journal entries"), el("dd", {}, j.entries ?? 0),
    el("dt", {}, "Adoption rate"),
    el("dd", { id: "journal-adoption", "data-n": String(a.n ?? 0), "data-rate": String(a.rate ?? "") },
      none ? "no journal entries yet: adopt or pass a recommendation above" : rateText(a),
      j.simulated === true ? el("span", { class: "muted" }, " · simulated user") : ""),
    ...(none ? [] : [el("dt", {}, "Decisions"), el("dd", {}, Object.entries(a.actions || {})
      .map(([k, v]) => `${human(k)} ${v}`).join(" · ") || `${a.adopted ?? 0} adopted of ${a.n}`)]));
  $("#journal-tables").replaceChildren(...[
    adoptionTable("Adoption by A/B group", a.by_group, "group"),
    adoptionTable("Adoption by template", a.by_template, "template"),
    adoptionTable("Adoption by regime", a.by_regime, "regime"),
    outcomesTable(j.outcomes),
    calibrationLine(j.calibration),
  ].filter((n) => n));
  $("#journal-sentences").replaceChildren(...(j.summary || []).map((line) => el("li", {}, line)));
}

let perfGeneration = 0;

async function loadPerformance() {
  const mine = ++perfGeneration; // a journal write and an analysis may both ask: the last one wins
  try {
    const perf = await getJSON("/api/ml/performance");
    if (mine !== perfGeneration) return;
    renderPerformance(perf);
    renderJournal(perf.journal);
    document.body.dataset.perf = "ready";
  } catch (e) {
    if (mine !== perfGeneration) return;
    $("#perf-summary").replaceChildren(el("dt", {}, "unavailable"), el("dd", {}, e.message));
    document.body.dataset.perf = "error";
  }
}

// ------------------------------------------------------------------------------- decision journal
// The API key is kept in sessionStorage (this tab only) and sent as a header: never in the URL (the
// field has no name, so no form submission carries it) and never in localStorage.

const KEY_STORE = "paiid.apiKey";
let shownReco = null;

function apiKey() {
  return $("#api-key").value.trim();
}

function restoreKey() {
  try { $("#api-key").value = sessionStorage.getItem(KEY_STORE) || ""; } catch { /* storage disabled */ }
}

function storeKey() {
  try {
    if (apiKey()) sessionStorage.setItem(KEY_STORE, apiKey());
    else sessionStorage.removeItem(KEY_STORE);
  } catch { /* storage disabled: the key lives in the field only */ }
}

function journalEntry(reco, s, action, supersedes) {
  // adopt: the recommendation's own template and side, with the trade answer's stop and target where
  // it has them ("adopt" for the top-ranked one, "adopt_other" for another); pass: no trade, so no
  // template or levels (the server reads what was passed on from the logged answer itself)
  const t = s.trade || {};
  const adopting = action === "adopt";
  const lv = adopting ? tradeLevels(t) : { entry: null, stop: null, target: null };
  return {
    prediction_id: t.prediction_id ?? reco.prediction_id,
    action: adopting ? (s.rank === 1 ? "adopt" : "adopt_other") : "pass",
    template: adopting ? s.strategy_id : null,
    side: adopting && (s.side === "short" || s.side === "long") ? s.side : null,
    entry: lv.entry, stop: lv.stop, target: lv.target,
    entry_date: null, supersedes: supersedes ?? null, note: null,
  };
}

// One decision per served answer: a second click on the same answer is a correction, a new entry that
// supersedes the last one (entries are append-only). prediction_id -> {id, li} of the latest entry.
const decided = new Map();

function setStatus(node, text, kind) {
  node.textContent = text;
  node.dataset.kind = kind;
  node.setAttribute("role", kind === "error" ? "alert" : "status");
}

async function recordDecision(li, button) {
  const reco = shownReco;
  const s = ((reco || {}).strategies || []).find((x) => x.strategy_id === li.dataset.strategy);
  if (!s) return;
  const action = button.dataset.action;
  const status = li.querySelector(".journal-status");
  const key = apiKey();
  if (!key) {
    setStatus(status, "an API key is needed to record a decision: enter the server's key above", "error");
    $("#api-key").focus();
    return;
  }
  const payload = journalEntry(reco, s, action, (decided.get((s.trade || {}).prediction_id ??
    reco.prediction_id) || {}).id);
  const buttons = [...li.querySelectorAll(".journal-btn")];
  const wasDisabled = buttons.map((b) => b.disabled);
  for (const b of buttons) b.disabled = true;
  setStatus(status, "recording…", "busy");
  const user = $("#user").value.trim() || reco.user || "";
  const headers = { "X-API-Key": key, ...(user ? { "X-User-Id": user } : {}) };
  try {
    const entry = await postJSON("/api/journal", payload, headers);
    const before = decided.get(payload.prediction_id);
    if (before && before.li !== li && before.li.isConnected) { // the earlier decision is corrected now
      before.li.removeAttribute("data-journal");
      for (const b of before.li.querySelectorAll(".journal-btn")) {
        b.disabled = false;
        b.textContent = b.dataset.action === "adopt" ? "Adopt" : "Pass";
      }
      setStatus(before.li.querySelector(".journal-status"), `superseded by entry #${entry.id}`, "");
    }
    decided.set(payload.prediction_id, { id: entry.id, li });
    const done = action === "adopt" ? "adopted" : "passed";
    for (const b of buttons) { // the other button stays usable: clicking it records a correction
      b.disabled = b === button;
      b.textContent = b === button ? done : b.dataset.action === "adopt" ? "Adopt" : "Pass";
      b.title = b === button ? "" : "change your decision (recorded as a new entry that supersedes this one)";
    }
    li.dataset.journal = done;
    setStatus(status, `${done} · journal entry #${entry.id}` +
      (payload.supersedes != null ? ` (corrects #${payload.supersedes})` : ""), "done");
    loadPerformance();
  } catch (e) {
    buttons.forEach((b, i) => { b.disabled = wasDisabled[i]; });
    setStatus(status, e.message, "error");
  }
}

// ------------------------------------------------------------------------------- main flow

let generation = 0;

async function analyse() {
  const symbol = $("#symbol").value;
  if (!symbol) return;
  const date = $("#date").value;
  const user = $("#user").value.trim();
  const mine = ++generation;
  document.body.dataset.state = "loading";
  $("#refresh").disabled = true;
  showError("");
  const q = new URLSearchParams({ symbol });
  if (date) q.set("date", date);
  const headers = user ? { "X-User-Id": user } : {};
  try {
    const [reco, chart] = await Promise.all([
      getJSON(`/api/ai/recommendations?${q}`, headers),
      getJSON(`/api/ai/chart?${new URLSearchParams({ symbol, tail: "250", ...(date ? { date } : {}) })}`),
    ]);
    if (mine !== generation) return; // a newer request superseded this one
    renderRegime(reco);
    renderStrategies(reco);
    renderChart(chart);
    setSlot("#patterns-typicality", typicalityBadge(patternsTypicality(reco, chart), "patterns"));
    setSlot("#patterns-model", modelLine(servedModel(reco, "pattern_scorer", null)));
    $("#active-patterns").textContent = (reco.patterns || []).length
      ? `active now: ${reco.patterns.map((p) => `${human(p.type)} (${p.signal}, ${pct(p.confidence)})`).join(", ")}`
      : "no pattern active as of this bar";
    $("#asof").textContent = `as of ${reco.as_of.slice(0, 10)} · close ${num(reco.last_close)}`;
    $("#ab-group").textContent = reco.ab_group ? `A/B group: ${reco.ab_group}` : "";
    $("#cached").textContent = reco.cached ? "cached" : "fresh";
    $("#models").textContent = "models: " + (reco.models && typeof reco.models === "object"
      ? Object.entries(reco.models).map(([k, m]) => `${k} v${(m || {}).version ?? "?"}` +
          ((m || {}).trained_through ? ` (trained through ${String(m.trained_through).slice(0, 10)})` : ""))
      : Object.entries(reco.model_versions || {}).map(([k, v]) => `${k} v${v}`)).join(" · ");
    document.body.dataset.symbol = reco.symbol;
    document.body.dataset.state = "ready";
    const url = new URL(location.href);
    url.searchParams.set("symbol", symbol);
    history.replaceState(null, "", url);
  } catch (e) {
    if (mine !== generation) return;
    showError(e.message);
    document.body.dataset.state = "error";
  } finally {
    if (mine === generation) $("#refresh").disabled = false;
  }
  loadPerformance();
}

// ------------------------------------------------------------------------------- watchlist
// GET /api/ml/scan: one row a symbol (regime, top strategy or stand aside, its win probability, fresh
// patterns), as of the date above. A row opens that symbol's view.

const SCAN_CHUNK = 200; // the API's cap of symbols per request
const SORT_DESC = { symbol: false, as_of: true, regime: false, confidence: true, probability: true,
  expected_return: true, win_probability: true, patterns: true };
let knownSymbols = [];
let scanRows = null;
let scanSort = null;
let scanGeneration = 0;

function currentView() {
  return document.body.dataset.view === "watchlist" ? "watchlist" : "symbol";
}

function setView(view) {
  const watch = view === "watchlist";
  $("#watchlist-view").hidden = !watch;
  $("#symbol-view").hidden = watch;
  $("#tab-watchlist").setAttribute("aria-selected", String(watch));
  $("#tab-symbol").setAttribute("aria-selected", String(!watch));
  document.body.dataset.view = watch ? "watchlist" : "symbol";
  const url = new URL(location.href);
  if (watch) url.searchParams.set("view", "watchlist");
  else url.searchParams.delete("view");
  history.replaceState(null, "", url);
}

function sortValue(r, key) {
  // the same columns and order as `paiid scan --sort` (paiid.engine.scan.sort_rows)
  if (r.error) return null;
  if (key === "probability" || key === "expected_return") return (r.recommendation || {})[key] ?? null;
  if (key === "patterns") return (r.patterns || []).length;
  return r[key] ?? null;
}

function sortedRows(rows, key) {
  if (!key) return rows;
  const desc = SORT_DESC[key];
  const have = rows.filter((r) => sortValue(r, key) != null);
  const missing = rows.filter((r) => sortValue(r, key) == null);
  const bySymbol = (a, b) => a.symbol.localeCompare(b.symbol);
  have.sort((a, b) => {
    const x = sortValue(a, key), y = sortValue(b, key);
    const c = typeof x === "number" ? x - y : String(x).localeCompare(String(y));
    return (desc ? -c : c) || bySymbol(a, b);
  });
  return [...have, ...missing.sort(bySymbol)];
}

function watchlistRow(r) {
  if (r.error) {
    return el("tr", { class: "error-row", "data-symbol": r.symbol, "data-error": "true" },
      el("td", {}, r.symbol), el("td", { colspan: "9", class: "row-error" }, r.error));
  }
  const rec = r.recommendation || {};
  const top = human(rec.strategy_id);
  const strategy = r.stand_aside
    ? el("td", { class: "aside", title: r.stand_aside_reason || "" }, "stand aside ",
      el("span", { class: "muted" }, `(top: ${top})`))
    : el("td", {}, top);
  const win = el("td", { class: "win" }, pct(r.win_probability),
    r.informative === false ? el("span", { class: "muted", title: "no information beyond the base rate" }, " *")
      : "");
  const pats = (r.patterns || []).map((p) => `${human(p.type)} (${p.signal})`).join(", ");
  return el("tr", { "data-symbol": r.symbol, "data-regime": r.regime || "", tabindex: "0" },
    el("td", { class: "sym" }, el("b", {}, r.symbol)),
    el("td", {}, (r.as_of || "").slice(0, 10)),
    el("td", {}, el("span", { class: `regime-name ${r.regime || ""}` }, human(r.regime)),
      r.regime_detail ? el("span", { class: "muted" }, ` · ${human(r.regime_detail)}`) : ""),
    el("td", { class: "conf" }, pct(r.confidence)),
    strategy,
    el("td", { class: "prob" }, pct(rec.probability)),
    el("td", {}, pct(rec.expected_return, 2)),
    el("td", { class: `side-${rec.side}` }, rec.side || "—"),
    win,
    el("td", { class: "pats" }, pats || "—"));
}

function renderWatchlist() {
  const rows = sortedRows(scanRows || [], scanSort);
  for (const th of document.querySelectorAll("#watchlist th[data-sort]")) {
    if (th.dataset.sort === scanSort) th.setAttribute("aria-sort", SORT_DESC[scanSort] ? "descending" : "ascending");
    else th.removeAttribute("aria-sort");
  }
  $("#watchlist tbody").replaceChildren(...(rows.length ? rows.map(watchlistRow) :
    [el("tr", {}, el("td", { colspan: "10", class: "muted" }, "no symbol to scan"))]));
}

function openSymbol(symbol) {
  const sel = $("#symbol");
  if (![...sel.options].some((o) => o.value === symbol)) sel.append(el("option", { value: symbol }, symbol));
  sel.value = symbol;
  setView("symbol");
  analyse();
}

async function scanWatchlist() {
  const typed = $("#watchlist-symbols").value.split(/[\s,]+/).filter(Boolean);
  const symbols = typed.length ? typed : knownSymbols;
  const date = $("#date").value;
  const mine = ++scanGeneration;
  document.body.dataset.watchlist = "loading";
  $("#scan").disabled = true;
  const box = $("#watchlist-error");
  box.hidden = true;
  try {
    const answers = [];
    for (let i = 0; i < symbols.length; i += SCAN_CHUNK) { // one request at a time: each fans out itself
      const q = new URLSearchParams({ symbols: symbols.slice(i, i + SCAN_CHUNK).join(",") });
      if (date) q.set("date", date);
      answers.push(await getJSON(`/api/ml/scan?${q}`));
    }
    if (mine !== scanGeneration) return;
    scanRows = answers.flatMap((a) => a.rows || []);
    const asOf = answers.length ? answers[0].as_of : null;
    const failed = scanRows.filter((r) => r.error).length;
    $("#watchlist-asof").textContent = `· as of ${date || (asOf ? asOf.slice(0, 10) : "—")} · ` +
      `${scanRows.length - failed} answered` + (failed ? `, ${failed} could not be` : "");
    renderWatchlist();
    document.body.dataset.watchlist = "ready";
    const url = new URL(location.href);
    if (typed.length) url.searchParams.set("watchlist", typed.join(","));
    else url.searchParams.delete("watchlist");
    history.replaceState(null, "", url);
  } catch (e) {
    if (mine !== scanGeneration) return;
    box.textContent = e.message;
    box.hidden = false;
    document.body.dataset.watchlist = "error";
  } finally {
    if (mine === scanGeneration) $("#scan").disabled = false;
  }
}

async function init() {
  const params = new URLSearchParams(location.search);
  $("#watchlist-symbols").value = params.get("watchlist") || "";
  $("#controls").addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (currentView() === "watchlist") scanWatchlist(); else analyse();
  });
  $("#symbol").addEventListener("change", () => { setView("symbol"); analyse(); });
  restoreKey();
  $("#api-key").addEventListener("input", storeKey);
  $("#strategies").addEventListener("click", (ev) => {
    const button = ev.target.closest("button.journal-btn");
    const li = button && button.closest("li.strategy");
    if (li && !button.disabled) recordDecision(li, button);
  });
  $("#watchlist-controls").addEventListener("submit", (ev) => { ev.preventDefault(); scanWatchlist(); });
  $("#tab-watchlist").addEventListener("click", () => {
    setView("watchlist");
    if (scanRows === null && document.body.dataset.watchlist !== "loading") scanWatchlist();
  });
  $("#tab-symbol").addEventListener("click", () => {
    setView("symbol");
    if (document.body.dataset.state === "idle") analyse();
  });
  $("#watchlist thead").addEventListener("click", (ev) => {
    const th = ev.target.closest("th[data-sort]");
    if (!th) return;
    scanSort = th.dataset.sort;
    renderWatchlist();
  });
  const tbody = $("#watchlist tbody");
  tbody.addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr[data-symbol]");
    if (tr) openSymbol(tr.dataset.symbol);
  });
  tbody.addEventListener("keydown", (ev) => {
    const tr = ev.target.closest("tr[data-symbol]");
    if (tr && (ev.key === "Enter" || ev.key === " ")) { ev.preventDefault(); openSymbol(tr.dataset.symbol); }
  });
  try {
    knownSymbols = (await loadSymbols()).map((s) => s.symbol);
  } catch (e) {
    showError(`could not list symbols: ${e.message}`);
    document.body.dataset.state = "error";
    return;
  }
  if (params.get("view") === "watchlist") {
    setView("watchlist");
    scanWatchlist();
  } else {
    setView("symbol");
    analyse();
  }
}

window.addEventListener("DOMContentLoaded", init);
