// seegaan view: the page's logic. Plain JavaScript, no libraries, talks only to this server.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const state = { info: null, film: null, feature: null, inFlight: false, pending: null,
                  pendingSince: 0, shownLam: null, methodsOpen: false };

  // -- messages and requests -------------------------------------------------------------
  function say(text, level) {
    const m = $("message");
    m.textContent = text;
    m.className = "message" + (level === "info" ? " info" : "");
    m.hidden = !text;
  }
  async function api(path, options) {
    let res;
    try {
      res = await fetch(path, options);
    } catch (err) {
      throw new Error("the viewer's server is not answering (was it stopped?)");
    }
    let body = null;
    try { body = await res.json(); } catch (err) { body = null; }
    if (!res.ok) throw new Error((body && body.error) || ("request failed (HTTP " + res.status + ")"));
    return body;
  }
  function query(extra) {
    const p = new URLSearchParams({ film: state.film, feature: state.feature.name });
    const [lo, hi] = levels();
    if (lo !== "") p.set("low", lo);
    if (hi !== "") p.set("high", hi);
    for (const [k, v] of Object.entries(extra || {})) p.set(k, v);
    return p.toString();
  }
  function fmt(v) { return (v === null || v === undefined) ? "–" : Number(v).toPrecision(4); }
  // A prediction or threshold in the target's units (pg/mL for BNPP), when the server knows them.
  function fmtUnit(v) { const u = state.info && state.info.unit; return fmt(v) + (u && v !== null && v !== undefined ? " " + u : ""); }

  // -- films -----------------------------------------------------------------------------
  async function searchFilms() {
    const q = $("film-search").value;
    try {
      const films = await api("/api/films?" + new URLSearchParams({ q: q, limit: 100 }));
      const list = $("film-list");
      list.replaceChildren();
      for (const f of films) {
        const li = document.createElement("li");
        const b = document.createElement("button");
        b.type = "button";
        b.dataset.id = f.id;
        b.textContent = f.id;
        const s = document.createElement("span");
        s.className = "split";
        s.textContent = f.split;
        b.appendChild(s);
        if (f.id === state.film) b.classList.add("active");
        b.addEventListener("click", () => chooseFilm(f.id));
        li.appendChild(b);
        list.appendChild(li);
      }
      if (!films.length) {
        const li = document.createElement("li");
        li.className = "muted";
        li.textContent = "No film id contains “" + q + "”.";
        list.appendChild(li);
      }
    } catch (err) { say(err.message); }
  }

  async function chooseFilm(id) {
    try {
      const film = await api("/api/film/" + encodeURIComponent(id));
      state.film = film.id;
      for (const b of document.querySelectorAll("#film-list button"))
        b.classList.toggle("active", b.dataset.id === film.id);
      const body = document.createElement("tbody");
      for (const [k, v] of Object.entries(film.row)) {
        const tr = document.createElement("tr");
        for (const text of [k, v === null ? "–" : String(v)]) {
          const td = document.createElement("td");
          td.textContent = text;
          tr.appendChild(td);
        }
        body.appendChild(tr);
      }
      $("film-row").replaceChildren(body);
      $("original-img").src = film.original || film.reconstruction;
      $("recon-img").src = film.reconstruction;
      $("lam").disabled = false;
      say("");
      state.shownLam = null;
      request(Number($("lam").value));
      refreshButtons();
      if (state.methodsOpen) loadMethods();
    } catch (err) { say(err.message); }
  }

  async function upload(file) {
    if (!file) return;
    const limit = state.info.max_upload_bytes;
    if (file.size > limit) {   // the server refuses it too; this just saves sending it
      say("upload: " + (file.size / 1e6).toFixed(1) + " MB is over the " + (limit / 1e6).toFixed(0) + " MB limit");
      $("upload").value = "";
      return;
    }
    say("Preparing " + file.name + "…", "info");
    try {
      const res = await api("/api/upload", { method: "POST", body: file,
                                              headers: { "Content-Type": "application/octet-stream" } });
      $("film-search").value = "";
      await searchFilms();
      await chooseFilm(res.id);
      say("Uploaded as " + res.id + " (prepared as `seegaan prepare` would, then encoded).", "info");
    } catch (err) { say(err.message); }
    $("upload").value = "";
  }

  // -- features --------------------------------------------------------------------------
  function levels() {
    const f = state.feature;
    if (!f) return ["", ""];
    if (f.feature_type === "qualitative") return [$("low").value, $("high").value];
    return [$("low-num").value, $("high-num").value];
  }
  function setFeature(name) {
    const f = state.info.features.find((x) => x.name === name);
    state.feature = f;
    const qual = f.feature_type === "qualitative";
    for (const id of ["low", "high"]) $(id).hidden = !qual;
    for (const id of ["low-num", "high-num"]) $(id).hidden = qual;
    $("low-label").textContent = qual ? "from" : "from value";
    $("high-label").textContent = qual ? "to" : "to value";
    if (qual) {
      for (const [id, pick] of [["low", 0], ["high", f.levels.length - 1]]) {
        const sel = $(id);
        sel.replaceChildren();
        for (const lv of f.levels) {
          const o = document.createElement("option");
          o.value = lv; o.textContent = lv;
          sel.appendChild(o);
        }
        sel.value = f.levels[pick];
      }
    } else {
      $("low-num").value = Number(f.low).toPrecision(4);
      $("high-num").value = Number(f.high).toPrecision(4);
    }
    state.shownLam = null;
    if (state.film) request(Number($("lam").value));
  }

  // -- the slider: debounced, latest position wins -------------------------------------------
  function request(lam) {
    if (!state.film || !state.feature) return;
    $("lam-value").textContent = lam.toFixed(2);
    if (state.pending === null) state.pendingSince = performance.now();
    state.pending = lam;
    if (!state.inFlight) setTimeout(send, 12);   // coalesce a burst of input events
  }
  async function send() {
    if (state.inFlight || state.pending === null) return;
    const lam = state.pending, since = state.pendingSince;
    state.pending = null;
    state.inFlight = true;
    try {
      const r = await api("/api/frame?" + query({ lam: lam }));
      const img = $("frame-img"), diff = $("diff-img");
      img.src = r.frame;
      diff.src = r.diff;
      await Promise.all([img.decode(), diff.decode()]).catch(() => {});
      const ms = performance.now() - since;
      state.shownLam = lam;
      $("frame-caption").textContent = "Frame at λ = " + lam.toFixed(2);
      const p = $("prediction");
      if (r.prediction === null) {
        p.textContent = "prediction: no model (start with --model)";
      } else {
        p.textContent = "prediction at λ = " + lam.toFixed(2) + ": " + fmtUnit(r.prediction) +
          " (frame 0: " + fmtUnit(r.prediction_frame0) + "; " + (r.positive ? "positive" : "negative") +
          " at threshold " + fmtUnit(state.info.threshold) + ")";
        p.classList.toggle("pos", !!r.positive);
      }
      $("latency").textContent = "latency: " + ms.toFixed(0) + " ms (server " + r.server_ms.toFixed(0) + " ms)";
      document.body.dataset.lastLatencyMs = ms.toFixed(1);
      document.body.dataset.frames = String(Number(document.body.dataset.frames || 0) + 1);
      refreshButtons();
    } catch (err) { say(err.message); }
    state.inFlight = false;
    if (state.pending !== null) send();
  }

  function refreshButtons() {
    const ready = !!(state.film && state.feature);
    const hasModel = !!(state.info && state.info.model);
    $("find-lambda").disabled = !(ready && hasModel);
    $("find-truth").disabled = !(ready && hasModel);
    for (const [id, path] of [["export-png", "/api/export.png"], ["export-gif", "/api/export.gif"]]) {
      const a = $(id);
      a.classList.toggle("disabled", !ready);
      if (ready) a.href = path + "?" + query({ lam: $("lam").value });
    }
  }

  async function findLambda(goal) {
    $("search-result").textContent = "Searching…";
    try {
      const r = await api("/api/find_lambda?" + query({ goal: goal }));
      const lam = Math.max(Number($("lam").min), Math.min(Number($("lam").max), r.display_lambda));
      $("lam").value = lam;
      $("search-result").textContent = (r.status === "reached"
        ? "Reached at λ = " + Number(r.lam).toFixed(3) : r.status + ": " + r.message) +
        " (" + r.calls + " model calls; aimed at " + fmt(r.value) + ")";
      request(Number($("lam").value));
    } catch (err) { $("search-result").textContent = ""; say(err.message); }
  }

  // -- explanations ----------------------------------------------------------------------
  async function loadMethods() {
    const box = $("methods");
    box.replaceChildren();
    let methods;
    try { methods = await api("/api/methods"); } catch (err) { say(err.message); return; }
    if (!methods.length) {
      box.textContent = "No explanation methods are registered in this install.";
      return;
    }
    const film = state.film;
    for (const m of methods) {
      const card = document.createElement("div");
      card.className = "method" + (m.available ? "" : " unavailable");
      card.dataset.method = m.name;
      const h = document.createElement("h4");
      h.textContent = m.title;
      const p = document.createElement("p");
      card.append(h, p);
      box.appendChild(card);
      if (!m.available) { p.textContent = "unavailable: " + m.reason; continue; }
      if (!film) { p.textContent = "choose a film first"; continue; }
      p.textContent = "computing…";
    }
    // One at a time: the server computes one explanation at a time anyway.
    for (const card of box.querySelectorAll(".method:not(.unavailable)")) {
      if (!film || film !== state.film) break;
      const p = card.querySelector("p");
      try {
        const r = await api("/api/explain?" + new URLSearchParams({ film: film, method: card.dataset.method }));
        for (const [key, what] of [["map", " map"], ["last_frame", " last frame"]]) {
          if (!r[key]) continue;   // a sequence method also shows where its sequence ends
          const img = document.createElement("img");
          img.alt = card.dataset.method + what;
          img.src = r[key];
          img.title = key === "last_frame" && r.step_name
            ? "last frame (" + r.step_name + " = " + fmt(r.last_step) + ")" : card.dataset.method + what;
          card.insertBefore(img, p);
        }
        p.textContent = r.status + (r.message ? ": " + r.message : "") +
          (r.seconds !== null && r.seconds !== undefined ? " · " + r.seconds + " s" : "") +
          (r.cached ? " · cached" : "");
      } catch (err) { p.textContent = err.message; }
    }
  }

  // -- start -----------------------------------------------------------------------------
  async function start() {
    try {
      state.info = await api("/api/info");
    } catch (err) { say(err.message); return; }
    const i = state.info;
    $("status").textContent = i.n_films + " films · " + i.image_size + "² · model: " +
      (i.model || "none") + " · directions from split '" + i.split + "'";
    const [lo, hi] = i.lambda_range;
    $("lam").min = lo; $("lam").max = hi;
    const sel = $("feature");
    for (const f of i.features) {
      const o = document.createElement("option");
      o.value = f.name; o.textContent = f.name + (f.feature_type === "quantitative" ? " (numeric)" : "");
      sel.appendChild(o);
    }
    if (i.features.length) setFeature(i.features[0].name);
    else say("The latent table has no feature with two or more values to slide along.");
    sel.addEventListener("change", () => setFeature(sel.value));
    for (const id of ["low", "high", "low-num", "high-num"])
      $(id).addEventListener("change", () => { state.shownLam = null; request(Number($("lam").value)); });
    $("lam").addEventListener("input", () => request(Number($("lam").value)));
    let timer = null;
    $("film-search").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(searchFilms, 150); });
    $("upload").addEventListener("change", () => upload($("upload").files[0]));
    $("find-lambda").addEventListener("click", () => findLambda("flip"));
    $("find-truth").addEventListener("click", () => findLambda("truth"));
    $("methods-toggle").addEventListener("click", () => {
      state.methodsOpen = !state.methodsOpen;
      $("methods").hidden = !state.methodsOpen;
      $("methods-toggle").setAttribute("aria-expanded", String(state.methodsOpen));
      $("methods-toggle").textContent = state.methodsOpen ? "Hide the methods" : "Show the registered methods' maps";
      if (state.methodsOpen) loadMethods();
    });
    await searchFilms();
    document.body.dataset.ready = "1";
  }
  document.addEventListener("DOMContentLoaded", start);
})();
