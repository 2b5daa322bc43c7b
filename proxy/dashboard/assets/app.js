// tollgate dashboard: polls state.json and redraws. Counters come as
// totals; rates are differences against the sample closest to a second
// old, so the server keeps no history. No dependencies.
"use strict";
(() => {
  const params = new URLSearchParams(location.search);
  const poll = Math.max(100, parseInt(params.get("poll") || "1000", 10) || 1000);
  const history = []; // {t: ms, s: state}
  let sortKey = "rate", sortDir = -1; // heaviest first
  let last = null, lastBase = null, lastDt = 0; // the newest state and what its rates came from

  const $ = (sel) => document.querySelector(sel);

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k.startsWith("data-")) e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }

  function pill(cls, text) { return el("span", { class: "pill " + cls }, text); }

  function fmtRate(x) {
    if (x === null || x === undefined || !isFinite(x)) return "—";
    return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
  }

  // fmtQuota writes a refill rate the way a config would: per second,
  // else per minute, else per hour.
  function fmtQuota(perSec) {
    if (perSec >= 1) return fmtRate(perSec) + "/s";
    if (perSec * 60 >= 1) return fmtRate(perSec * 60) + "/m";
    return fmtRate(perSec * 3600) + "/h";
  }

  function fmtTime(iso) {
    const d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleTimeString();
  }

  // base returns the sample to compute rates against: the newest one at
  // least a second older than now, else the oldest kept.
  function base(now) {
    let b = null;
    for (const h of history) {
      if (now - h.t >= 1000) b = h;
    }
    return b || (history.length > 1 ? history[0] : null);
  }

  function index(list, key) {
    const m = new Map();
    for (const x of list || []) m.set(key(x), x);
    return m;
  }

  function renderHeader(s) {
    $("#config-version").textContent = s.config.version;
    $("#config-loaded").textContent = fmtTime(s.config.loaded_at);
    $("#store").textContent = s.store;
    const r = $("#reload"), errs = $("#reload-errors");
    errs.replaceChildren();
    if (!s.reload) {
      r.className = "reload";
      r.textContent = "no reload yet";
      errs.hidden = true;
      return;
    }
    r.className = "reload " + s.reload.result;
    r.textContent = "last reload " + fmtTime(s.reload.at) + ": " +
      (s.reload.result === "ok" ? "ok, version " + s.reload.version : "failed, running config kept");
    for (const e of s.reload.errors || []) errs.append(el("li", {}, e));
    errs.hidden = !(s.reload.errors && s.reload.errors.length);
  }

  function clientRows(s, b, dt) {
    const prev = b ? index(b.s.clients, (c) => c.name) : new Map();
    return s.clients.map((c) => {
      const p = prev.get(c.name);
      const total = (x) => x.allowed + x.denied + x.shadow_denied;
      return {
        c,
        name: c.name,
        rate: p && dt > 0 ? (total(c) - total(p)) / dt : null,
        denyRate: p && dt > 0 ? (c.denied - p.denied) / dt : null,
        denied: c.denied,
        inflight: c.in_flight === null ? -1 : c.in_flight,
        remaining: c.remaining === null ? Infinity : c.remaining / Math.max(1, c.limit),
      };
    });
  }

  function compare(a, b) {
    const va = a[sortKey], vb = b[sortKey];
    if (sortKey === "name") return sortDir * String(va).localeCompare(String(vb));
    const x = va === null ? -Infinity : va, y = vb === null ? -Infinity : vb;
    if (x !== y) return sortDir * (x < y ? -1 : 1);
    if (a.denied !== b.denied) return b.denied - a.denied;
    return a.name.localeCompare(b.name);
  }

  function quotaCell(c) {
    if (c.remaining === null) {
      return el("td", { class: "remaining muted" }, "per caller (" + c.tracked + " tracked) of " + c.limit);
    }
    const frac = c.limit > 0 ? c.remaining / c.limit : 0;
    const bar = el("span", { class: "bar" + (c.remaining === 0 ? " empty" : frac < 0.25 ? " low" : "") }, el("i"));
    bar.firstChild.style.width = Math.round(100 * frac) + "%";
    const td = el("td", { class: "quota" }, bar, el("span", { class: "remaining" }, c.remaining), " / " + c.limit);
    if (c.reset_seconds > 0) td.append(el("span", { class: "muted" }, "  next in " + c.reset_seconds + "s"));
    return td;
  }

  function renderClients(s, b, dt) {
    const rows = clientRows(s, b, dt).sort(compare);
    const body = $("#clients tbody");
    body.replaceChildren(...rows.map((r) => {
      const c = r.c;
      const policy = [c.mode, fmtQuota(c.rate)];
      if (c.concurrency) policy.push("concurrency " + c.concurrency);
      for (const o of c.overrides || []) policy.push(o.route + ": " + o.remaining + "/" + o.limit);
      return el("tr", { "data-client": c.name },
        el("td", { class: "name" }, c.name),
        quotaCell(c),
        el("td", { class: "num rate" }, fmtRate(r.rate)),
        el("td", { class: "num deny-rate" + (r.denyRate > 0 ? " bad" : "") }, fmtRate(r.denyRate)),
        el("td", { class: "num denied" }, c.denied),
        el("td", { class: "num inflight" }, c.in_flight === null ? "—" : c.in_flight),
        el("td", { class: "muted" }, policy.join(" · ")));
    }));
    for (const th of document.querySelectorAll("#clients th[data-key]")) {
      th.classList.toggle("sorted", th.dataset.key === sortKey);
      th.classList.toggle("asc", th.dataset.key === sortKey && sortDir > 0);
    }
  }

  function renderTargets(s, b, dt) {
    const prev = new Map();
    for (const u of (b && b.s.upstreams) || []) for (const t of u.targets) prev.set(u.name + "/" + t.addr, t);
    const rows = [];
    for (const u of s.upstreams) {
      for (const t of u.targets) {
        const id = u.name + "/" + t.addr;
        const p = prev.get(id);
        const dTries = p ? t.tries - p.tries : 0;
        const dFail = p ? t.failures - p.failures : 0;
        const errRate = dTries > 0 ? dFail / dTries : null;
        const health = !t.health_checked ? pill("unchecked", "not checked") : t.healthy ? pill("healthy", "healthy") : pill("unhealthy", "unhealthy");
        rows.push(el("tr", { "data-target": id },
          el("td", {}, u.name), el("td", {}, t.addr), el("td", { class: "health" }, health),
          el("td", { class: "breaker" }, pill(t.breaker, t.breaker)),
          el("td", { class: "num" }, t.in_flight), el("td", { class: "num" }, t.idle),
          el("td", { class: "num" }, p && dt > 0 ? fmtRate(dTries / dt) : "—"),
          el("td", { class: "num error-rate" + (errRate > 0 ? " bad" : "") }, errRate === null ? "—" : (100 * errRate).toFixed(1) + "%"),
          el("td", { class: "num muted" }, t.failures + " / " + t.tries)));
      }
    }
    $("#targets tbody").replaceChildren(...rows);
  }

  function renderRoutes(s, b, dt) {
    const prev = b ? index(b.s.routes, (r) => r.name) : new Map();
    $("#routes tbody").replaceChildren(...s.routes.map((r) => {
      const p = prev.get(r.name);
      const match = r.match + (r.methods && r.methods.length ? " " + r.methods.join(",") : "");
      return el("tr", { "data-route": r.name },
        el("td", {}, r.name), el("td", {}, el("code", {}, match)), el("td", {}, r.upstream),
        el("td", { class: "muted" }, (r.auth || []).join(", ") || "none"),
        el("td", { class: "num" }, p && dt > 0 ? fmtRate((r.requests - p.requests) / dt) : "—"),
        el("td", { class: "num" }, p && dt > 0 ? fmtRate((r.errors - p.errors) / dt) : "—"),
        el("td", { class: "num" }, r.requests));
    }));
  }

  function render(s) {
    const now = Date.parse(s.now);
    const b = base(now);
    const dt = b ? (now - b.t) / 1000 : 0;
    renderHeader(s);
    renderClients(s, b, dt);
    renderTargets(s, b, dt);
    renderRoutes(s, b, dt);
    history.push({ t: now, s });
    while (history.length > 2 && now - history[1].t > 1000 + 4 * poll) history.shift();
    last = s;
    lastBase = b;
    lastDt = dt;
  }

  function setLive(ok, text) {
    const l = $("#live");
    l.className = "live" + (ok ? "" : " down");
    l.textContent = text;
  }

  async function tick() {
    try {
      const res = await fetch("state.json", { cache: "no-store" });
      if (!res.ok) throw new Error("HTTP " + res.status);
      render(await res.json());
      setLive(true, "live · every " + poll + " ms · " + new Date().toLocaleTimeString());
    } catch (e) {
      setLive(false, "disconnected: " + e.message);
    } finally {
      setTimeout(tick, poll);
    }
  }

  for (const th of document.querySelectorAll("#clients th[data-key]")) {
    th.addEventListener("click", () => {
      const k = th.dataset.key;
      sortDir = k === sortKey ? -sortDir : (k === "name" || k === "remaining" ? 1 : -1);
      sortKey = k;
      if (last) renderClients(last, lastBase, lastDt);
    });
  }
  tick();
})();
