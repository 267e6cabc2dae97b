"use strict";
(function () {
  const csrf = document.body.dataset.csrf;
  const refreshMs = Number(document.body.dataset.refreshMs) || 1000;
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";

  function text(id, value) { $(id).textContent = value === null || value === undefined ? "–" : String(value); }
  function li(parent, content, cls) {
    const item = document.createElement("li");
    item.textContent = content;
    if (cls) { item.className = cls; }
    parent.appendChild(item);
  }
  function bytes(n) {
    if (n === null || n === undefined) { return "–"; }
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return n.toFixed(i ? 1 : 0) + " " + units[i];
  }
  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {}),
    });
    if (response.status === 401) { window.location = "/login"; }
    return response.json();
  }

  function drawMasks(masks) {
    const svg = $("overlay");
    svg.setAttribute("viewBox", "0 0 " + masks.width + " " + masks.height);
    svg.replaceChildren();
    for (const polygon of masks.polygons) {
      const shape = document.createElementNS(SVG, "polygon");
      shape.setAttribute("points", polygon.points.map((p) => p[0] + "," + p[1]).join(" "));
      shape.setAttribute("fill", "none");
      shape.setAttribute("stroke", "#ffd400");
      shape.setAttribute("stroke-width", String(Math.max(1, masks.width / 400)));
      shape.setAttribute("vector-effect", "non-scaling-stroke");
      const title = document.createElementNS(SVG, "title");
      title.textContent = polygon.name;
      shape.appendChild(title);
      svg.appendChild(shape);
    }
  }

  function render(s) {
    const verdict = $("verdict");
    verdict.textContent = s.verdict;
    verdict.className = "pill " + s.verdict;
    const reasons = $("reasons");
    reasons.replaceChildren();
    if (s.reasons.length === 0) { li(reasons, "all stages running", "pass"); }
    for (const r of s.reasons) { li(reasons, r); }
    const stages = $("stages");
    stages.replaceChildren();
    for (const st of s.stages) {
      const row = document.createElement("tr");
      for (const v of [st.name, st.fps, st.dropped, st.errors, st.latency_ms === null ? "–" : st.latency_ms]) {
        const cell = document.createElement("td");
        cell.textContent = String(v);
        row.appendChild(cell);
      }
      stages.appendChild(row);
    }
    const a = s.aiming;
    text("focus", a.focus === null ? "no measurement" : a.focus);
    $("focus-bar").style.width = a.focus === null ? "0" : Math.min(100, a.focus / 10) + "%";
    text("shift", (a.shift_share * 100).toFixed(2) + " % of the width");
    text("rotation", a.rotation_deg.toFixed(2) + "°");
    text("scale", a.scale.toFixed(3));
    text("tamper", a.tamper + (a.tamper_cause ? " (" + a.tamper_cause + ")" : ""));
    text("reference", a.reference_id || "none");
    text("broker", (s.broker.connected ? "connected to " : "NOT connected to ") + s.broker.address +
      (s.broker.last_error ? " (" + s.broker.last_error + ")" : ""));
    text("outbox", s.broker.outbox_depth + " waiting" + (s.broker.outbox_oldest_age_s === null ? "" :
      ", oldest " + Math.round(s.broker.outbox_oldest_age_s) + " s"));
    text("camera", s.camera.state + (s.camera.reason ? ": " + s.camera.reason : ""));
    text("timesync", s.time_sync.state + " (" + s.time_sync.source + ")");
    text("models", s.models);
    text("uptime", Math.round(s.uptime_s) + " s");
    text("mask-id", s.privacy.mask_id);
    const storage = $("storage");
    storage.replaceChildren();
    const rec = s.recording;
    const rows = [["Recording", rec.enabled ? (rec.error || "on") : "off"],
      ["Disk", bytes(s.system.disk_used_bytes) + " of " + bytes(s.system.disk_total_bytes)]];
    if (rec.storage) {
      rows.push(["Segments", rec.storage.segments + " (" + bytes(rec.storage.used_bytes) + " of " +
        bytes(rec.storage.quota_bytes) + ")"]);
      rows.push(["Retention", rec.storage.max_age_days + " days (" + rec.storage.profile + ")"]);
      rows.push(["Holds", rec.storage.active_holds + " active, " + bytes(rec.storage.held_bytes) + " held"]);
    }
    for (const [k, v] of rows) {
      const dt = document.createElement("dt"); dt.textContent = k;
      const dd = document.createElement("dd"); dd.textContent = v;
      storage.append(dt, dd);
    }
    const anpr = $("anpr");
    anpr.replaceChildren();
    const p = s.anpr;
    const arows = [["ANPR", p.state + (p.reason ? ": " + p.reason : "") +
      (p.profile ? " (" + p.profile + ")" : "")]];
    if (p.capture) {
      const c = p.capture;
      arows.push(["Vehicles", c.vehicles + " tracked, " + c.read + " read" +
        (c.capture_rate === null ? "" : " (" + (c.capture_rate * 100).toFixed(1) + " %)")]);
      arows.push(["Confidence", c.mean_confidence === null ? "–" : c.mean_confidence.toFixed(3)]);
      arows.push(["Time per frame", c.ms_p50 === null ? "–" : c.ms_p50 + " ms (p95 " + c.ms_p95 + " ms)"]);
    }
    if (p.hotlists) {
      const active = p.hotlists.lists.filter((l) => l.active).length;
      arows.push(["Hotlists", active + " in force of " + p.hotlists.lists.length +
        (p.hotlists.error ? " (" + p.hotlists.error + ")" : "")]);
    }
    if (p.lez) { arows.push(["LEZ", p.lez.evidence + " evidence, " + p.lez.dropped + " dropped"]); }
    for (const [k, v] of arows) {
      const dt = document.createElement("dt"); dt.textContent = k;
      const dd = document.createElement("dd"); dd.textContent = v;
      anpr.append(dt, dd);
    }
    const events = $("events");
    events.replaceChildren();
    if (s.events.length === 0) { li(events, "none", "muted"); }
    for (const e of s.events.slice().reverse()) {
      li(events, new Date(e.ts_ns / 1e6).toISOString() + " " + e.kind + ": " + e.cause +
        (e.actor ? " by " + e.actor : ""));
    }
    drawMasks(s.masks);
  }

  async function refreshState() {
    try {
      const response = await fetch("/api/state", { credentials: "same-origin" });
      if (response.status === 401) { window.location = "/login"; return; }
      render(await response.json());
      document.body.dataset.loaded = "yes";
    } catch (err) {
      $("verdict").textContent = "no answer";
      $("verdict").className = "pill red";
    }
  }

  function refreshPreview() {
    $("preview").src = "/preview.jpg?t=" + Date.now();
  }

  $("selftest").addEventListener("click", async () => {
    const list = $("selftest-results");
    list.replaceChildren();
    li(list, "running…", "muted");
    const result = await post("/api/selftest");
    list.replaceChildren();
    for (const r of result.results) { li(list, r.name + ": " + r.status + " — " + r.detail, r.status); }
    list.dataset.done = "yes";
  });

  let pending = null;
  const questions = {
    capture: "Take the current view as the reference? Check in the live view that every mask sits where it should.",
    approve: "Approve the view as it is now? This clears a tamper alarm; the masks shown become the truth.",
  };
  for (const button of document.querySelectorAll("[data-ask]")) {
    button.addEventListener("click", () => {
      pending = button.dataset.ask;
      text("confirm-text", questions[pending]);
      $("confirm").classList.add("open");
    });
  }
  $("confirm-no").addEventListener("click", () => { pending = null; $("confirm").classList.remove("open"); });
  $("confirm-yes").addEventListener("click", async () => {
    const action = pending;
    pending = null;
    $("confirm").classList.remove("open");
    const result = await post("/api/reference", { action: action, confirm: true });
    text("reference-result", result.ok ? action + " requested: " + result.note : result.error);
  });

  refreshState();
  refreshPreview();
  setInterval(refreshState, Math.max(2000, refreshMs));
  setInterval(refreshPreview, refreshMs);
})();
