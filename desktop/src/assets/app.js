// Tilannekuva – johdon työpöytä. No framework, no build step, no inline script (CSP).
"use strict";

const I18N = {
  fi: {
    skip: "Siirry mittareihin", subtitle: "Johdon työpöytä", logout: "Kirjaudu ulos", reports: "Raportit",
    title: "Strategian mittarit", grain: "Jakso", month: "Kuukausi", quarter: "Neljännesvuosi", year: "Vuosi",
    period: "Ajanjakso", asof: "Tilanne ajankohtana", latest: "Viimeisin", latestSnapshot: "Uusin julkaisu",
    sources: "Lähteiden tilanne", close: "Sulje", strategy: "Strategiakausi",
    computed: "Laskettu", dataVersion: "dataversio", other: "Muut mittarit",
    noTiles: "Ei mittareita", tilesCount: (n) => n === 1 ? "1 mittari" : `${n} mittaria`,
    target: "Tavoite", noTarget: "ei tavoitetta", change: "edellisestä", better: "parempi", worse: "heikompi",
    through: "Data asti", n: "n",
    st: { green: "Tavoitteessa", yellow: "Osittain tavoitteessa", red: "Jäljessä tavoitteesta", grey: "Ei arvioitavissa", none: "Ei tavoitetta" },
    nt: {
      suppressed: (x) => `Arvo piilotettu: liian vähän havaintoja (vähintään ${x.min_n})`,
      incomplete: (x) => `Tiedot puutteelliset: puuttuu ${x.missing.slice(0, 3).join(", ")}${x.missing.length > 3 ? " …" : ""}`,
      stale: (x) => `Tiedot vanhentuneet: viimeisimmät ${fmtDate(x.data_through)} (${x.days} vrk)`,
      no_data: () => "Ei tietoja jaksolta",
      late: (x) => `Lähde myöhässä: ${x.source} (odotetaan ${x.expected_every_hours} tunnin välein${x.last_loaded_at ? `, viimeksi ${fmtDate(x.last_loaded_at)}` : ""})`,
      source_config: (x) => `Lähdettä ${x.source} ei ladata: sen asetustiedostossa on virhe`,
      in_progress: (x) => `Jakso kesken${x.data_through ? `: tiedot ${fmtDate(x.data_through)} asti` : ""}`,
    },
    breakdown: "Erittely", series: "Aikasarja", definition: "Määritelmä", sourcesOf: "Lähteet ja lataukset",
    dimension: "Ulottuvuus", member: "Kohde", value: "Arvo", status: "Tila",
    owner: "Omistaja", sector: "Toimiala", priority: "Painopiste", perspective: "Näkökulma",
    direction: "Suunta", hib: "suurempi on parempi", lib: "pienempi on parempi", version: "Määritelmän versio",
    sql: "Näytä SQL-kysely", source: "Lähde", file: "Tiedosto", loaded: "Ladattu", rows: "Rivejä", rejects: "Hylättyjä",
    dataThrough: "Data asti", noBreakdown: "Jaksolle ei ole erittelyä (tai solut ovat liian pieniä näytettäviksi).",
    open: "Avaa erittely", loading: "Ladataan…", error: "Tietojen haku epäonnistui", lastLoad: "Viimeisin lataus",
    dims: { service: "Palvelu", channel: "Kanava", sector: "Toimiala", risk_class: "Riskiluokka", unit: "Yksikkö" },
    pipeline: "Ajohistoria", trend: "Kehitys", periods: "jaksoa", minN: "Vähimmäis-n", pp: "%-yks.",
    checkins: "Omistajan arvio", noCheckin: "Jaksolle ei ole vielä arviota.", checkinHistory: "Aiemmat versiot",
    checkinWrite: "Kirjoita arvio jaksolle", checkinText: "Arvio", checkinRating: "Eteneminen", checkinSave: "Tallenna arvio",
    checkinSaved: "Arvio tallennettu.", by: "kirjoittanut", inProgress: "jakso kesken",
    scorecard: "Kaikki mittarit", matrix: "Painopisteet ja näkökulmat", tile: "Mittari", changeHead: "Muutos",
    ratings: { progressing: "Etenee", attention: "Huomioitavaa", not_progressing: "Ei etene" },
    goals: "Sitovat tavoitteet", goal: "Sitova tavoite", goalProgress: "Avaintuloksista etenee",
    kpis: "Tavoitteen mittarit", noKpis: "Tavoitteelle ei ole nimetty mittareita.", years: "Voimassa",
    keyResults: (n, all) => `${fmtInt(n)}/${fmtInt(all)} avaintulosta etenee`,
  },
  sv: {
    skip: "Gå till mätarna", subtitle: "Ledningens skrivbord", logout: "Logga ut", reports: "Rapporter",
    title: "Strategins mätare", grain: "Period", month: "Månad", quarter: "Kvartal", year: "År",
    period: "Tidsperiod", asof: "Läget vid tidpunkt", latest: "Senaste", latestSnapshot: "Senaste publicering",
    sources: "Källornas läge", close: "Stäng", strategy: "Strategiperiod",
    computed: "Beräknad", dataVersion: "dataversion", other: "Övriga mätare",
    noTiles: "Inga mätare", tilesCount: (n) => n === 1 ? "1 mätare" : `${n} mätare`,
    target: "Mål", noTarget: "inget mål", change: "från föregående", better: "bättre", worse: "sämre",
    through: "Data till", n: "n",
    st: { green: "Enligt målet", yellow: "Delvis enligt målet", red: "Efter målet", grey: "Kan inte bedömas", none: "Inget mål" },
    nt: {
      suppressed: (x) => `Värdet dolt: för få observationer (minst ${x.min_n})`,
      incomplete: (x) => `Ofullständiga uppgifter: saknas ${x.missing.slice(0, 3).join(", ")}${x.missing.length > 3 ? " …" : ""}`,
      stale: (x) => `Föråldrade uppgifter: senaste ${fmtDate(x.data_through)} (${x.days} dygn)`,
      no_data: () => "Inga uppgifter för perioden",
      source_config: (x) => `Källan ${x.source} läses inte in: dess konfigurationsfil har fel`,
      late: (x) => `Källan är försenad: ${x.source} (väntas var ${x.expected_every_hours}:e timme${x.last_loaded_at ? `, senast ${fmtDate(x.last_loaded_at)}` : ""})`,
      in_progress: (x) => `Perioden pågår${x.data_through ? `: uppgifter till ${fmtDate(x.data_through)}` : ""}`,
    },
    breakdown: "Fördelning", series: "Tidsserie", definition: "Definition", sourcesOf: "Källor och laddningar",
    dimension: "Dimension", member: "Objekt", value: "Värde", status: "Läge",
    owner: "Ägare", sector: "Sektor", priority: "Prioritering", perspective: "Perspektiv",
    direction: "Riktning", hib: "större är bättre", lib: "mindre är bättre", version: "Definitionens version",
    sql: "Visa SQL-frågan", source: "Källa", file: "Fil", loaded: "Laddad", rows: "Rader", rejects: "Avvisade",
    dataThrough: "Data till", noBreakdown: "Ingen fördelning för perioden.",
    open: "Öppna fördelningen", loading: "Laddar…", error: "Hämtningen misslyckades", lastLoad: "Senaste laddning",
    dims: { service: "Tjänst", channel: "Kanal", sector: "Sektor", risk_class: "Riskklass", unit: "Enhet" },
    pipeline: "Körhistorik", trend: "Utveckling", periods: "perioder", minN: "Minsta n", pp: "procentenh.",
    checkins: "Ägarens bedömning", noCheckin: "Ingen bedömning för perioden ännu.", checkinHistory: "Tidigare versioner",
    checkinWrite: "Skriv en bedömning för perioden", checkinText: "Bedömning", checkinRating: "Framsteg", checkinSave: "Spara bedömningen",
    checkinSaved: "Bedömningen sparad.", by: "skriven av", inProgress: "perioden pågår",
    scorecard: "Alla mätare", matrix: "Prioriteringar och perspektiv", tile: "Mätare", changeHead: "Förändring",
    goals: "Bindande mål", goal: "Bindande mål", goalProgress: "Nyckelresultat som framskrider",
    kpis: "Målets mätare", noKpis: "Inga mätare har angetts för målet.", years: "Gäller",
    keyResults: (n, all) => `${fmtInt(n)}/${fmtInt(all)} nyckelresultat framskrider`,
    ratings: { progressing: "Framskrider", attention: "Kräver uppmärksamhet", not_progressing: "Framskrider inte" },
  },
  en: {
    skip: "Skip to the indicators", subtitle: "Leadership desktop", logout: "Sign out", reports: "Reports",
    title: "Strategy indicators", grain: "Grain", month: "Month", quarter: "Quarter", year: "Year",
    period: "Period", asof: "As published at", latest: "Latest", latestSnapshot: "Latest snapshot",
    sources: "Source status", close: "Close", strategy: "Strategy period",
    computed: "Computed", dataVersion: "data version", other: "Other indicators",
    noTiles: "No indicators", tilesCount: (n) => n === 1 ? "1 indicator" : `${n} indicators`,
    target: "Target", noTarget: "no target", change: "vs previous", better: "better", worse: "worse",
    through: "Data through", n: "n",
    st: { green: "On target", yellow: "Partly on target", red: "Behind target", grey: "Not assessable", none: "No target" },
    nt: {
      suppressed: (x) => `Value suppressed: too few observations (minimum ${x.min_n})`,
      incomplete: (x) => `Incomplete data: missing ${x.missing.slice(0, 3).join(", ")}${x.missing.length > 3 ? " …" : ""}`,
      stale: (x) => `Stale data: latest from ${fmtDate(x.data_through)} (${x.days} days)`,
      no_data: () => "No data for the period",
      source_config: (x) => `Source ${x.source} is not being loaded: its config file has problems`,
      late: (x) => `Late source: ${x.source} (expected every ${x.expected_every_hours} h${x.last_loaded_at ? `, last ${fmtDate(x.last_loaded_at)}` : ""})`,
      in_progress: (x) => `Period in progress${x.data_through ? `: data through ${fmtDate(x.data_through)}` : ""}`,
    },
    breakdown: "Breakdown", series: "Series", definition: "Definition", sourcesOf: "Sources and loads",
    dimension: "Dimension", member: "Member", value: "Value", status: "Status",
    owner: "Owner", sector: "Sector", priority: "Priority", perspective: "Perspective",
    direction: "Direction", hib: "higher is better", lib: "lower is better", version: "Definition version",
    sql: "Show the SQL", source: "Source", file: "File", loaded: "Loaded", rows: "Rows", rejects: "Rejects",
    dataThrough: "Data through", noBreakdown: "No breakdown for the period (or its cells are too small to show).",
    open: "Open the breakdown", loading: "Loading…", error: "Could not fetch the data", lastLoad: "Last load",
    dims: { service: "Service", channel: "Channel", sector: "Sector", risk_class: "Risk class", unit: "Unit" },
    pipeline: "Run history", trend: "Trend", periods: "periods", minN: "Minimum n", pp: "pp",
    checkins: "Owner's assessment", noCheckin: "No assessment for the period yet.", checkinHistory: "Earlier versions",
    checkinWrite: "Write an assessment for the period", checkinText: "Assessment", checkinRating: "Progress", checkinSave: "Save the assessment",
    checkinSaved: "Assessment saved.", by: "by", inProgress: "period in progress",
    scorecard: "Every KPI", matrix: "Priorities and perspectives", tile: "KPI", changeHead: "Change",
    goals: "Binding goals", goal: "Binding goal", goalProgress: "Key results progressing",
    kpis: "The goal's KPIs", noKpis: "No KPIs are named for the goal.", years: "Binding",
    keyResults: (n, all) => `${fmtInt(n)} of ${fmtInt(all)} key results progressing`,
    ratings: { progressing: "Progressing", attention: "Needs attention", not_progressing: "Not progressing" },
  },
};
const SYMBOL = { green: "●", yellow: "▲", red: "■", grey: "○", none: "·" };

const state = {
  lang: localStorage.getItem("tk-lang") || "fi",
  grain: "quarter", period: "", asOf: "", latestShown: null,
  list: null, status: null, opener: null,
};

const $ = (sel) => document.querySelector(sel);
const t = () => I18N[state.lang] || I18N.fi;
const txt = (o) => (o ? (o[state.lang] || o.fi || o.en || "") : "");

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}
const svg = (tag, attrs) => {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
};

// Numbers the Finnish way (decimal comma) in fi and sv, a point in English.
function fmtNum(v, decimals) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  const s = Number(v).toFixed(decimals);
  return state.lang === "en" ? s : s.replace(".", ",");
}
function fmtInt(n) {
  if (n === null || n === undefined) return "–";
  const s = String(Math.round(n));
  const grouped = s.replace(/\B(?=(\d{3})+(?!\d))/g, state.lang === "en" ? "," : "\u00a0");
  return grouped;
}
function withUnit(v, tile) {
  const u = tile.unit || "";
  return fmtNum(v, tile.decimals) + (u && v !== null && v !== undefined ? "\u00a0" + u : "");
}
function locale() { return state.lang === "en" ? "en-GB" : state.lang === "sv" ? "sv-FI" : "fi-FI"; }
function fmtDate(iso) {
  if (!iso) return "–";
  return new Intl.DateTimeFormat(locale(), { timeZone: "Europe/Helsinki", day: "numeric", month: "numeric", year: "numeric" }).format(new Date(iso));
}
function fmtTime(iso) {
  if (!iso) return "–";
  return new Intl.DateTimeFormat(locale(), { timeZone: "Europe/Helsinki", day: "numeric", month: "numeric", year: "numeric", hour: "2-digit", minute: "2-digit" }).format(new Date(iso));
}
function changeText(f, tile) {
  if (!f || f.change === null || f.change === undefined) return "";
  const c = f.change;
  const arrow = c > 0 ? "↑" : c < 0 ? "↓" : "→";
  const unit = tile.unit === "%" ? t().pp : tile.unit;
  const sign = c > 0 ? "+" : "";
  let judge = "";
  if (c !== 0) {
    const good = (c > 0) === (tile.direction === "higher_is_better");
    judge = ` (${good ? t().better : t().worse})`;
  }
  return `${arrow} ${sign}${fmtNum(c, tile.decimals)} ${unit} ${t().change}${judge}`;
}
function statusBadge(status) {
  return el("span", { class: `badge b-${status}` }, `${SYMBOL[status] || ""} ${t().st[status] || status}`);
}
function noticeText(n) {
  const f = t().nt[n.code];
  return f ? f(n) : n.code;
}

async function api(path) {
  const r = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (r.status === 401) { window.location.href = "/login"; throw new Error("unauthorized"); }
  const body = await r.json().catch(() => null);
  if (!r.ok) throw new Error(body && body.error ? body.error.message : `HTTP ${r.status}`);
  return body;
}
async function postJson(path, body) {
  const r = await fetch(path, {
    method: "POST", credentials: "same-origin",
    headers: { Accept: "application/json", "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (r.status === 401) { window.location.href = "/login"; throw new Error("unauthorized"); }
  const answer = await r.json().catch(() => null);
  if (!r.ok) throw new Error(answer && answer.error ? answer.error.message : `HTTP ${r.status}`);
  return answer;
}
function query(extra) {
  const p = new URLSearchParams();
  p.set("grain", state.grain);
  if (state.period) p.set("period", state.period);
  if (state.asOf) p.set("as_of", state.asOf);
  for (const [k, v] of Object.entries(extra || {})) p.set(k, v);
  return p.toString();
}

function sparkline(series, tile, target) {
  const vals = series.map((s) => s.value);
  const nums = vals.filter((v) => v !== null && v !== undefined);
  if (nums.length < 2) return null;
  const W = 200, H = 34, P = 3;
  let lo = Math.min(...nums), hi = Math.max(...nums);
  if (target !== null && target !== undefined) { lo = Math.min(lo, target); hi = Math.max(hi, target); }
  if (hi === lo) { hi += 1; lo -= 1; }
  const x = (i) => P + (i * (W - 2 * P)) / Math.max(1, vals.length - 1);
  const y = (v) => H - P - ((v - lo) * (H - 2 * P)) / (hi - lo);
  const s = svg("svg", { class: "spark", viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img", focusable: "false" });
  const first = series.find((p) => p.value !== null && p.value !== undefined);
  const last = [...series].reverse().find((p) => p.value !== null && p.value !== undefined);
  const label = `${t().trend} ${series.length} ${t().periods}: ${first.period} ${withUnit(first.value, tile)} – ${last.period} ${withUnit(last.value, tile)}`;
  s.append(svg("title", {}));
  s.lastChild.textContent = label;
  s.setAttribute("aria-label", label);
  if (target !== null && target !== undefined) {
    s.append(svg("line", { class: "target", x1: P, x2: W - P, y1: y(target), y2: y(target), "vector-effect": "non-scaling-stroke" }));
  }
  let pts = [];
  const flush = () => { if (pts.length > 1) s.append(svg("polyline", { points: pts.join(" "), "vector-effect": "non-scaling-stroke" })); pts = []; };
  vals.forEach((v, i) => { if (v === null || v === undefined) flush(); else pts.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`); });
  flush();
  const li = vals.length - 1 - [...vals].reverse().findIndex((v) => v !== null && v !== undefined);
  s.append(svg("circle", { cx: x(li), cy: y(vals[li]), r: 2.5 }));
  return s;
}

// The drill-down's series as a line chart: the target as a dashed line, a period in
// progress as a hollow point. An image with a title and a description listing every value;
// the table below it has the same figures.
function seriesChart(series, tile) {
  const pts = series.filter((p) => p.value !== null && p.value !== undefined);
  if (pts.length < 2) return null;
  const W = 560, H = 200, L = 56, R = 12, T = 12, B = 28;
  const vals = series.flatMap((p) => [p.value, p.target]).filter((v) => v !== null && v !== undefined);
  let lo = Math.min(...vals), hi = Math.max(...vals);
  if (lo > 0 && lo < hi * 0.6) lo = 0;
  if (hi === lo) hi = lo + 1;
  const pad = (hi - lo) * 0.08; hi += pad; if (lo !== 0) lo -= pad;
  const x = (i) => L + (i * (W - L - R)) / Math.max(1, series.length - 1);
  const y = (v) => T + (H - T - B) * (1 - (v - lo) / (hi - lo));
  const desc = series.map((p) => `${p.period} ${withUnit(p.value, tile)}`
    + (p.target !== null && p.target !== undefined ? ` (${t().target} ${withUnit(p.target, tile)})` : "")
    + (p.in_progress ? `, ${t().inProgress}` : "")).join("; ");
  const s = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${t().series}: ${desc}` });
  const title = svg("title", {}); title.textContent = `${t().series}: ${desc}`; s.append(title);
  for (const v of [lo, hi]) {
    s.append(svg("line", { class: "grid", x1: L, x2: W - R, y1: y(v), y2: y(v) }));
    const tx = svg("text", { class: "axis", x: L - 4, y: y(v) + 4, "text-anchor": "end" }); tx.textContent = withUnit(v, tile); s.append(tx);
  }
  const target = series.map((p, i) => (p.target === null || p.target === undefined ? null : `${x(i).toFixed(1)},${y(p.target).toFixed(1)}`)).filter(Boolean);
  if (target.length > 1) s.append(svg("polyline", { class: "target", points: target.join(" ") }));
  s.append(svg("polyline", { class: "value", points: series.map((p, i) => (p.value === null || p.value === undefined ? null : `${x(i).toFixed(1)},${y(p.value).toFixed(1)}`)).filter(Boolean).join(" ") }));
  series.forEach((p, i) => {
    if (p.value === null || p.value === undefined) return;
    s.append(svg("circle", { class: p.in_progress ? "point in-progress" : "point", cx: x(i), cy: y(p.value), r: 3.5 }));
  });
  const every = Math.max(1, Math.ceil(series.length / 6));
  series.forEach((p, i) => {
    const last = i === series.length - 1;
    if (!last && !(i % every === 0 && i + every < series.length)) return;
    const tx = svg("text", { class: "axis", x: x(i), y: H - 8, "text-anchor": last ? "end" : "middle" });
    tx.textContent = p.period; s.append(tx);
  });
  return s;
}

// A figure's breakdown as bars, each with its value and status in words beside it.
function breakdownChart(cells, tile) {
  const shown = cells.filter((c) => c.value !== null && c.value !== undefined);
  if (!shown.length) return null;
  const W = 560, row = 20, NW = 190, VW = 150;
  const H = row * shown.length + 4;
  const hi = Math.max(...shown.map((c) => c.value), 0), lo = Math.min(...shown.map((c) => c.value), 0);
  const span = W - NW - VW;
  const scale = (v) => Math.max(1, (span * (v - lo)) / ((hi - lo) || 1));
  const desc = shown.map((c) => `${c.member}: ${withUnit(c.value, tile)}`).join("; ");
  const s = svg("svg", { class: "chart bars", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${t().breakdown}: ${desc}` });
  const title = svg("title", {}); title.textContent = `${t().breakdown}: ${desc}`; s.append(title);
  shown.forEach((c, i) => {
    const yy = 2 + i * row;
    const name = svg("text", { class: "axis", x: NW - 6, y: yy + 13, "text-anchor": "end" });
    name.textContent = c.member.length > 30 ? `${c.member.slice(0, 29)}…` : c.member;
    const w = scale(c.value);
    s.append(name, svg("rect", { class: `bar s-${c.status}`, x: NW, y: yy + 2, width: w, height: row - 6 }));
    const v = svg("text", { class: "axis", x: NW + w + 6, y: yy + 13 });
    v.textContent = `${withUnit(c.value, tile)} ${t().st[c.status] || ""}`;
    s.append(v);
  });
  return s;
}

function tileButton(tile, row, col) {
  const f = tile.figure;
  const status = f ? f.status : "grey";
  const value = f ? f.value : null;
  const target = f && f.target !== null && f.target !== undefined
    ? `${t().target} ${withUnit(f.target, tile)}` : t().noTarget;
  const meta = f
    ? `${f.period} · ${t().through} ${fmtDate(f.data_through)} · n\u00a0=\u00a0${fmtInt(f.n)}`
    : "–";
  const change = changeText(f, tile);
  const notices = (tile.notices || []).map((n) => el("span", { class: `notice n-${n.code}` }, "⚠ ", noticeText(n)));
  const label = [txt(tile.title), `${withUnit(value, tile)}`, target, t().st[status], change, meta,
    ...(tile.notices || []).map(noticeText)].filter(Boolean).join(". ");
  const b = el("button", {
    type: "button", class: `tile s-${status}`, "data-id": tile.id, "data-row": row, "data-col": col,
    "aria-haspopup": "dialog", "aria-label": label,
  },
  el("span", { class: "tile-title" }, txt(tile.title)),
  el("span", { class: "tile-figure" },
    el("span", { class: "tile-value", "data-value": value === null ? "" : String(value) }, withUnit(value, tile)),
    el("span", { class: "tile-target" }, target)),
  el("span", { class: "tile-row" }, statusBadge(status), el("span", { class: "tile-change" }, change)),
  sparkline(tile.series || [], tile, f ? f.target : null),
  el("span", { class: "tile-meta" }, meta),
  notices,
  tile.checkin ? el("span", { class: "tile-checkin" },
    `${t().ratings[tile.checkin.rating] || ""}: “${tile.checkin.excerpt}” (${tile.checkin.period})`) : null);
  b.addEventListener("click", () => openDetail(tile.id, b));
  return b;
}

function renderLegend() {
  const ul = $("#legend");
  ul.replaceChildren(...["green", "yellow", "red", "grey", "none"].map((s) => el("li", {}, statusBadge(s))));
  ul.setAttribute("aria-label", t().status);
}

// The strategy period the figures shown fall in (the 2023–2025 priorities for 2025 figures),
// else the current one.
function strategyOf(strat, tiles) {
  const years = (tiles || []).map((x) => x.figure && parseInt(String(x.figure.period).slice(0, 4), 10)).filter((y) => y);
  const year = years.length ? Math.max(...years) : null;
  return (year && strat.periods.find((p) => p.years && p.years[0] <= year && year <= p.years[1]))
    || strat.periods.find((p) => p.id === strat.current) || strat.periods[0];
}

// Every tile on one screen: a compact scorecard row each (priority, tile, value, target,
// status in words, change, trend, owner, the owner's latest words), and beside it the
// priority × perspective grid of the strategy period shown, a status symbol per tile.
function renderScorecard() {
  const data = state.list;
  if (!data) return;
  const strat = data.strategy;
  const current = strategyOf(strat, data.tiles);
  const prioOf = (x) => (x.strategy && x.strategy.priority ? x.strategy.priority[current.id] : null);
  const order = (x) => {
    const i = current.priorities.findIndex((p) => p.id === prioOf(x));
    return i < 0 ? current.priorities.length : i;
  };
  const tiles = [...data.tiles].sort((a, b) => order(a) - order(b));
  const head = [t().priority, t().tile, t().value, t().target, t().status, t().changeHead, t().trend, t().owner, t().checkins];
  const rows = tiles.map((x) => {
    const f = x.figure;
    const prio = current.priorities.find((p) => p.id === prioOf(x));
    const sector = strat.sectors.find((s2) => s2.id === x.owner.sector);
    const open = el("button", { type: "button", class: "link", "data-id": x.id, "aria-haspopup": "dialog" }, txt(x.title));
    open.addEventListener("click", () => openDetail(x.id, open));
    return el("tr", { "data-id": x.id },
      el("td", { class: "prio" }, prio ? txt(prio) : t().other),
      el("th", { scope: "row" }, open),
      el("td", { class: "num" }, withUnit(f ? f.value : null, x)),
      el("td", { class: "num" }, f && f.target !== null && f.target !== undefined ? withUnit(f.target, x) : "–"),
      el("td", {}, statusBadge(f ? f.status : "grey")),
      el("td", { class: "num" }, changeText(f, x)),
      el("td", { class: "trend" }, sparkline(x.series || [], x, f ? f.target : null)),
      el("td", { class: "owner" }, sector ? txt(sector) : x.owner.sector),
      el("td", { class: "excerpt" }, x.checkin ? `${t().ratings[x.checkin.rating] || ""}: ${x.checkin.excerpt}` : ""));
  });
  const fmt = goalFormat(data);
  const goalRows = (data.goals || []).map((g) => {
    const p = g.progress;
    const sector = strat.sectors.find((s2) => s2.id === g.owner.sector);
    const open = el("button", { type: "button", class: "link", "data-goal": g.id, "aria-haspopup": "dialog" }, txt(g.name));
    open.addEventListener("click", () => openGoal(g.id, open));
    return el("tr", { "data-goal": g.id },
      el("td", { class: "prio", title: `${t().goal} ${g.id}` }, el("span", { class: "visually-hidden" }, `${t().goal} `), g.id),
      el("th", { scope: "row" }, open),
      el("td", { class: "num" }, withUnit(p ? p.value : null, fmt)),
      el("td", { class: "num" }, p && p.target !== null && p.target !== undefined ? withUnit(p.target, fmt) : "–"),
      el("td", {}, statusBadge(p ? p.status : "grey")),
      el("td", { class: "num" }, changeText(goalChange(g), fmt)),
      el("td", { class: "trend" }, sparkline(g.series || [], fmt, p ? p.target : null)),
      el("td", { class: "owner", title: g.owner.role }, sector ? txt(sector) : g.owner.sector),
      el("td", { class: "excerpt" }, g.checkin ? `${t().ratings[g.checkin.rating] || ""}: ${g.checkin.excerpt}` : ""));
  });
  $("#scorecard").replaceChildren(el("table", { class: "scorecard" },
    el("caption", { class: "visually-hidden" }, `${goalRows.length ? `${t().goals}, ` : ""}${t().scorecard} (${current.id})`),
    el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { scope: "col" }, h)))),
    goalRows.length ? el("tbody", { class: "goals", "aria-label": t().goals }, ...goalRows) : null,
    el("tbody", { class: "kpis" }, ...rows)));
  const persp = strat.perspectives;
  const grid = el("table", { class: "matrix" },
    el("caption", {}, `${t().matrix} ${current.id}`),
    el("thead", {}, el("tr", {}, el("td", {}), ...persp.map((p) => el("th", { scope: "col" }, txt(p))))),
    el("tbody", {}, ...current.priorities.map((pr) => el("tr", {},
      el("th", { scope: "row" }, txt(pr)),
      ...persp.map((pe) => el("td", {}, ...tiles
        .filter((x) => prioOf(x) === pr.id && x.strategy.perspective === pe.id)
        .map((x) => {
          const st = x.figure ? x.figure.status : "grey";
          return el("span", { class: `dot s-${st}`, title: `${txt(x.title)}: ${t().st[st]}`, role: "img",
            "aria-label": `${txt(x.title)}: ${t().st[st]}` }, statusSymbol(st));
        })))))));
  $("#matrix").replaceChildren(grid);
}

// A binding goal's figures read like the tile its progress comes from (a share in %).
function goalFormat(data) {
  return (data && data.goal_progress) || { unit: "%", decimals: 1, direction: "higher_is_better" };
}

// The change of a goal's progress from the period before the one shown.
function goalChange(g) {
  const s = g.series || [];
  const p = g.progress;
  if (!p || s.length < 2 || s[s.length - 1].period !== p.period) return null;
  const prev = s[s.length - 2].value;
  if (p.value === null || p.value === undefined || prev === null || prev === undefined) return null;
  return { change: p.value - prev };
}

function statusSymbol(st) {
  return { green: "●", yellow: "▲", red: "■", grey: "○", none: "·" }[st] || "○";
}

function renderGrid() {
  const grid = $("#grid");
  const data = state.list;
  if (!data) return;
  const strat = data.strategy;
  const current = strategyOf(strat, data.tiles);
  $("#strategy-name").textContent = `${t().strategy} ${current.id}`;
  const persp = strat.perspectives;
  grid.style.setProperty("--cols", String(persp.length));
  const rows = current.priorities.map((p) => ({ id: p.id, name: txt(p), tiles: [] }));
  const other = { id: "_other", name: t().other, tiles: [] };
  for (const tile of data.tiles) {
    const pid = tile.strategy && tile.strategy.priority ? tile.strategy.priority[current.id] : null;
    (rows.find((r) => r.id === pid) || other).tiles.push(tile);
  }
  if (other.tiles.length) rows.push(other);
  const nodes = [el("div", { class: "corner", "aria-hidden": "true" })];
  for (const p of persp) nodes.push(el("p", { class: "col-head", id: `col-${p.id}` }, txt(p)));
  rows.forEach((r, ri) => {
    const hid = `row-${r.id}`;
    nodes.push(el("div", { class: "row-head" },
      el("h2", { id: hid }, r.name),
      el("p", { class: "row-count" }, r.tiles.length ? t().tilesCount(r.tiles.length) : t().noTiles)));
    persp.forEach((p, ci) => {
      const mine = r.tiles.filter((x) => x.strategy && x.strategy.perspective === p.id);
      const cell = el("div", { class: "cell", role: "group", "aria-labelledby": `${hid} col-${p.id}`, "data-label": txt(p) });
      if (mine.length) mine.forEach((x) => cell.append(tileButton(x, ri, ci)));
      else cell.append(el("span", { class: "cell-empty", "aria-hidden": "true" }, "—"));
      nodes.push(cell);
    });
    // Tiles whose perspective is unknown go in the first column.
    const stray = r.tiles.filter((x) => !persp.some((p) => x.strategy && x.strategy.perspective === p.id));
    if (stray.length) stray.forEach((x) => nodes[nodes.length - persp.length].append(tileButton(x, ri, 0)));
  });
  grid.replaceChildren(...nodes);
  grid.setAttribute("aria-label", t().title);
}

function renderControls() {
  const data = state.list;
  const period = $("#period");
  // "Latest" names the periods the tiles actually show (their latest ended period), not the
  // newest period any tile has begun.
  const shown = [...new Set((data ? data.tiles : []).map((x) => x.figure && x.figure.period).filter(Boolean))]
    .sort().reverse();
  if (!state.period) state.latestShown = shown;
  const latest = state.latestShown || [];
  const opts = [el("option", { value: "" }, `${t().latest}${latest.length ? ` (${latest.join(", ")})` : ""}`)];
  for (const p of (data ? data.periods : [])) opts.push(el("option", { value: p }, p));
  period.replaceChildren(...opts);
  period.value = state.period;
  const asof = $("#asof");
  const snaps = state.status ? state.status.snapshots : [];
  const aopts = [el("option", { value: "" }, t().latestSnapshot)];
  for (const s of snaps) aopts.push(el("option", { value: s.computed_at }, fmtTime(s.computed_at)));
  asof.replaceChildren(...aopts);
  asof.value = state.asOf;
  $("#grain").value = state.grain;
  if (data) {
    const s = data.snapshot;
    $("#snapshot-info").textContent = `${t().computed} ${fmtTime(s.computed_at)} · ${t().dataVersion} ${s.data_version} · ${s.id}`;
  }
}

function renderSources() {
  const box = $("#sources");
  const st = state.status;
  if (!st) return;
  const head = el("tr", {}, [t().source, t().lastLoad, t().file, t().rows, t().rejects, t().dataThrough]
    .map((h, i) => el("th", { scope: "col", class: i >= 3 && i <= 4 ? "num" : null }, h)));
  const rows = st.sources.map((s) => el("tr", {},
    el("th", { scope: "row" }, s.source), el("td", {}, fmtTime(s.last_loaded_at)), el("td", {}, s.file || "–"),
    el("td", { class: "num" }, fmtInt(s.rows)), el("td", { class: "num" }, fmtInt(s.rejects)), el("td", {}, fmtDate(s.data_through))));
  const parts = [el("table", {}, el("thead", {}, head), el("tbody", {}, rows))];
  if (st.pipeline !== null && st.pipeline !== undefined) {
    parts.push(el("details", {}, el("summary", {}, t().pipeline), el("pre", {}, JSON.stringify(st.pipeline, null, 2))));
  }
  box.replaceChildren(...parts);
}

function applyLang() {
  document.documentElement.lang = state.lang;
  document.title = `Tilannekuva – ${t().subtitle.toLowerCase()}`;
  for (const e of document.querySelectorAll("[data-i18n]")) {
    const v = t()[e.dataset.i18n];
    if (typeof v === "string") e.textContent = v;
  }
  for (const b of document.querySelectorAll(".lang button")) b.setAttribute("aria-pressed", String(b.dataset.lang === state.lang));
  renderLegend(); renderControls(); renderScorecard(); renderGrid(); renderSources();
}

function showMessage(text) {
  const m = $("#message");
  m.hidden = !text;
  m.textContent = text || "";
}

async function load() {
  showMessage("");
  try {
    const [list, status] = await Promise.all([api(`/api/v1/tiles?${query()}`), api("/api/v1/status")]);
    state.list = list; state.status = status;
    document.body.dataset.snapshot = list.snapshot.id;
    applyLang();
    document.body.dataset.ready = "true";
  } catch (e) {
    showMessage(`${t().error}: ${e.message}`);
    document.body.dataset.ready = "error";
  }
}

// Keyboard: arrows move between tiles (left/right in reading order, up/down between rows).
function onGridKey(ev) {
  const cur = ev.target.closest(".tile");
  if (!cur) return;
  const tiles = [...document.querySelectorAll("#grid .tile")];
  const i = tiles.indexOf(cur);
  let next = null;
  if (ev.key === "ArrowRight") next = tiles[i + 1];
  else if (ev.key === "ArrowLeft") next = tiles[i - 1];
  else if (ev.key === "Home") next = tiles[0];
  else if (ev.key === "End") next = tiles[tiles.length - 1];
  else if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
    const row = Number(cur.dataset.row), col = Number(cur.dataset.col);
    const rows = [...new Set(tiles.map((x) => Number(x.dataset.row)))].sort((a, b) => a - b);
    const target = ev.key === "ArrowDown" ? rows.find((r) => r > row) : [...rows].reverse().find((r) => r < row);
    if (target !== undefined) {
      const cands = tiles.filter((x) => Number(x.dataset.row) === target);
      next = cands.reduce((best, x) => Math.abs(Number(x.dataset.col) - col) < Math.abs(Number(best.dataset.col) - col) ? x : best, cands[0]);
    } else {
      const same = tiles.filter((x) => Number(x.dataset.row) === row);
      const j = same.indexOf(cur);
      next = ev.key === "ArrowDown" ? same[j + 1] : same[j - 1];
    }
  } else return;
  ev.preventDefault();
  if (next) next.focus();
}

// A breakdown member, with what a reader should know about it (a unit whose series
// continues through a merge or a rename says so).
function memberCell(c) {
  if (!c.note) return c.member;
  return el("span", {}, c.member, el("small", { class: "cell-note", lang: "en" }, c.note));
}

function table(caption, headers, rows, numeric) {
  return el("table", {},
    el("caption", {}, caption),
    el("thead", {}, el("tr", {}, headers.map((h, i) => el("th", { scope: "col", class: numeric.includes(i) ? "num" : null }, h)))),
    el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c, i) => i === 0
      ? el("th", { scope: "row" }, c)
      : el("td", { class: numeric.includes(i) ? "num" : null }, c))))));
}

// Opens the drill-down dialog (or keeps it open) saying it is loading, and asks the API for
// what it shows; on a failure the dialog says why and the answer is null.
async function openDialog(path, opener) {
  state.opener = opener || document.activeElement;
  const dlg = $("#detail");
  const body = $("#detail-body");
  $("#detail-title").textContent = t().loading;
  body.replaceChildren(el("p", {}, t().loading));
  if (!dlg.open) dlg.showModal();
  try {
    return await api(`${path}?${query()}`);
  } catch (e) {
    body.replaceChildren(el("p", { class: "message" }, `${t().error}: ${e.message}`));
    return null;
  }
}

async function openDetail(id, opener) {
  const d = await openDialog(`/api/v1/tiles/${encodeURIComponent(id)}`, opener);
  if (!d) return;
  const dlg = $("#detail");
  const body = $("#detail-body");
  const tile = d.tile, f = d.figure;
  const strat = d.strategy;
  const current = strategyOf(strat, [{ figure: f }]);
  const prio = current.priorities.find((p) => p.id === (tile.strategy.priority || {})[current.id]);
  const persp = strat.perspectives.find((p) => p.id === tile.strategy.perspective);
  const sector = strat.sectors.find((s) => s.id === tile.owner.sector);
  $("#detail-title").textContent = txt(tile.title);
  const parts = [];
  const status = f ? f.status : "grey";
  parts.push(el("div", { class: "summary" },
    el("span", { class: "tile-value" }, withUnit(f ? f.value : null, tile)),
    el("span", {}, f && f.target !== null ? `${t().target} ${withUnit(f.target, tile)}` : t().noTarget),
    statusBadge(status),
    el("span", {}, changeText(f, tile)),
    el("span", { class: "meta" }, f ? `${f.period} · ${t().through} ${fmtDate(f.data_through)} · n = ${fmtInt(f.n)}` : "")));
  for (const n of d.notices || []) parts.push(el("p", { class: `notice n-${n.code}` }, "⚠ ", noticeText(n)));
  if (f && f.status_reason) parts.push(el("p", { class: "meta", lang: "en" }, f.status_reason));
  parts.push(...checkinSection(d.checkins, f ? f.period : null, { tile: id }, () => openDetail(id, state.opener)));

  parts.push(el("h3", {}, t().breakdown));
  if (f && f.breakdown && f.breakdown.length) {
    const bars = breakdownChart(f.breakdown, tile);
    if (bars) parts.push(bars);
    parts.push(table(`${t().breakdown} ${f.period}`, [t().dimension, t().member, t().value, t().n, t().status],
      f.breakdown.map((c) => [t().dims[c.dimension] || c.dimension, memberCell(c), withUnit(c.value, tile), fmtInt(c.n), statusBadge(c.status)]), [2, 3]));
  } else parts.push(el("p", { class: "meta" }, t().noBreakdown));

  const series = (tile.series[d.grain] || []).slice(-12).reverse();
  parts.push(el("h3", {}, t().series));
  const line = seriesChart([...series].reverse(), tile);
  if (line) parts.push(line);
  parts.push(table(`${t().series} (${t()[d.grain]})`, [t().period, t().value, t().target, t().n, t().status],
    series.map((s) => [s.period, withUnit(s.value, tile), s.target === null ? "–" : withUnit(s.target, tile), fmtInt(s.n), statusBadge(s.status)]), [1, 2, 3]));

  parts.push(el("h3", {}, t().definition));
  parts.push(el("p", {}, txt(tile.description)));
  const dl = el("dl", { class: "def" });
  const add = (k, v) => dl.append(el("dt", {}, k), el("dd", {}, v));
  add(t().owner, `${tile.owner.role}${sector ? `, ${txt(sector)}` : ""}`);
  if (prio) add(t().priority, txt(prio));
  if (persp) add(t().perspective, txt(persp));
  add(t().direction, tile.direction === "higher_is_better" ? t().hib : t().lib);
  add(t().minN, String(tile.min_n));
  add(t().version, tile.definition_version);
  parts.push(dl);
  parts.push(el("details", {}, el("summary", {}, t().sql), el("pre", {}, el("code", {}, tile.sql))));

  parts.push(el("h3", {}, t().sourcesOf));
  const ledger = Object.fromEntries((d.source_status || []).map((s) => [s.source, s]));
  const names = [...new Set(tile.sources.map((s) => s.source))];
  parts.push(table(t().sourcesOf, [t().source, t().lastLoad, t().file, t().rows, t().rejects, t().dataThrough],
    names.map((n) => { const s = ledger[n] || {}; return [n, fmtTime(s.last_loaded_at), s.file || "–", fmtInt(s.rows), fmtInt(s.rejects), fmtDate(s.data_through)]; }), [3, 4]));
  body.replaceChildren(...parts);
  delete dlg.dataset.goal;
  dlg.dataset.tile = id;
}

// The owner's assessment of the period shown, its earlier versions, and for an owner (a
// token with the write scope for the sector of the tile or goal) a form to write a new one.
// `subject` is what the check-in is posted about: `{ tile: id }` or `{ goal: id }`;
// `reopen` shows the drill-down again with the words saved.
function checkinSection(checkins, period, subject, reopen) {
  const c = checkins || { in_force: [], history: [], may_write: false };
  const out = [el("h3", {}, t().checkins)];
  const current = (c.in_force || []).find((x) => x.period === period);
  const line = (x) => el("p", { class: "checkin" },
    el("strong", {}, `${t().ratings[x.rating] || x.rating}. `), x.text,
    el("span", { class: "meta" }, ` – ${x.author}, ${fmtTime(x.written_at)} (${x.period})`));
  out.push(current ? line(current) : el("p", { class: "meta" }, t().noCheckin));
  const older = (c.history || []).filter((x) => x.period === period && (!current || x.id !== current.id));
  if (older.length) out.push(el("details", {}, el("summary", {}, `${t().checkinHistory} (${older.length})`), ...older.map(line)));
  if (c.may_write && period && !state.asOf) {
    const text = el("textarea", { id: "checkin-text", rows: "3", maxlength: "2000", required: "" });
    const rating = el("select", { id: "checkin-rating" },
      ...["progressing", "attention", "not_progressing"].map((r) => el("option", { value: r }, t().ratings[r])));
    const status = el("p", { class: "meta", role: "status" });
    const form = el("form", { class: "checkin-form" },
      el("h4", {}, `${t().checkinWrite} ${period}`),
      el("label", { for: "checkin-rating" }, t().checkinRating), rating,
      el("label", { for: "checkin-text" }, t().checkinText), text,
      el("button", { type: "submit", id: "checkin-save" }, t().checkinSave), status);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        await postJson("/api/v1/checkins", { ...subject, period, rating: rating.value, text: text.value });
        status.textContent = t().checkinSaved;
        await load();
        await reopen();
      } catch (err) {
        status.textContent = `${t().error}: ${err.message}`;
      }
    });
    out.push(form);
  }
  return out;
}

// A binding goal's drill-down: its progress (the share of its key results progressing) with
// the counts, the owner's assessment and the form to write one, the progress over time, the
// KPIs that measure it, and who owns it.
async function openGoal(id, opener) {
  const d = await openDialog(`/api/v1/goals/${encodeURIComponent(id)}`, opener);
  if (!d) return;
  const dlg = $("#detail");
  const body = $("#detail-body");
  const g = d.goal, p = d.progress, fmt = goalFormat({ goal_progress: d.progress_tile });
  const sector = d.strategy.sectors.find((x) => x.id === g.owner.sector);
  $("#detail-title").textContent = `${t().goal} ${g.id}: ${txt(g.name)}`;
  const parts = [];
  parts.push(el("div", { class: "summary" },
    el("span", { class: "tile-value" }, withUnit(p ? p.value : null, fmt)),
    el("span", {}, p && p.target !== null && p.target !== undefined ? `${t().target} ${withUnit(p.target, fmt)}` : t().noTarget),
    statusBadge(p ? p.status : "grey"),
    el("span", {}, p && p.numerator !== null ? t().keyResults(p.numerator, p.denominator) : ""),
    el("span", { class: "meta" }, p ? p.period : "")));
  parts.push(...checkinSection(d.checkins, d.period, { goal: g.id }, () => openGoal(id, state.opener)));

  const series = d.series || [];
  parts.push(el("h3", {}, `${t().goalProgress}: ${t().series}`));
  const line = seriesChart(series, fmt);
  if (line) parts.push(line);
  parts.push(table(`${t().goalProgress} (${t()[d.grain]})`, [t().period, t().value, t().target, t().n, t().status],
    [...series].reverse().map((x) => [x.period, withUnit(x.value, fmt), x.target === null ? "–" : withUnit(x.target, fmt), fmtInt(x.n), statusBadge(x.status)]), [1, 2, 3]));

  parts.push(el("h3", {}, t().kpis));
  if ((d.kpis || []).length) {
    parts.push(table(t().kpis, [t().tile, t().period, t().value, t().target, t().status], d.kpis.map((k) => {
      const b = el("button", { type: "button", class: "link", "data-id": k.id }, txt(k.title));
      b.addEventListener("click", () => openDetail(k.id, state.opener));
      const f = k.figure;
      return [b, f ? f.period : "–", withUnit(f ? f.value : null, k), f && f.target !== null ? withUnit(f.target, k) : "–", statusBadge(f ? f.status : "grey")];
    }), [2, 3]));
  } else parts.push(el("p", { class: "meta" }, t().noKpis));

  parts.push(el("h3", {}, t().definition));
  const dl = el("dl", { class: "def" });
  const add = (k, v) => dl.append(el("dt", {}, k), el("dd", {}, v));
  add(t().owner, `${g.owner.role}${sector ? `, ${txt(sector)}` : ""}`);
  add(t().years, g.years[0] === g.years[1] ? String(g.years[0]) : `${g.years[0]}–${g.years[1]}`);
  if (d.progress_tile) add(t().goalProgress, txt(d.progress_tile.title));
  parts.push(dl);
  body.replaceChildren(...parts);
  delete dlg.dataset.tile;
  dlg.dataset.goal = id;
}

function closeDetail() {
  const dlg = $("#detail");
  if (dlg.open) dlg.close();
}

document.addEventListener("DOMContentLoaded", () => {
  $("#grid").addEventListener("keydown", onGridKey);
  $("#grain").addEventListener("change", (e) => { state.grain = e.target.value; state.period = ""; load(); });
  $("#period").addEventListener("change", (e) => { state.period = e.target.value; load(); });
  $("#asof").addEventListener("change", (e) => { state.asOf = e.target.value; state.period = ""; load(); });
  $("#detail-close").addEventListener("click", closeDetail);
  $("#detail").addEventListener("close", () => { if (state.opener && state.opener.focus) state.opener.focus(); });
  for (const b of document.querySelectorAll(".lang button")) {
    b.addEventListener("click", () => { state.lang = b.dataset.lang; localStorage.setItem("tk-lang", state.lang); applyLang(); });
  }
  load();
});
