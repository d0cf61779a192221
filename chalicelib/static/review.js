// The reviewers' page. Served as a file of its own (script-src 'self'): no inline script.
"use strict";

const $ = (id) => document.getElementById(id);
const ACTION_NAMES = {
  confirm: "confirm the takedown (the hashes are shared)",
  reject: "reject: restore the upload",
  escalate: "escalate to a second reviewer",
};
let current = null;  // the case on screen: the only one a decision can go to
let opening = 0;     // the latest case asked for: an older answer arriving late is dropped
let pending = null;  // the decision shown for confirmation, exactly as it will be sent

// Relative paths: the page is /review locally and /<stage>/review on API Gateway.
function api(path, options = {}) {
  const headers = { "Authorization": "Bearer " + $("key").value, "Content-Type": "application/json" };
  return fetch(path, { ...options, headers }).then(async (response) => {
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || body.Message || response.statusText);
    return body;
  });
}
function duration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const sign = seconds < 0 ? "-" : ""; seconds = Math.abs(seconds);
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60);
  return sign + (h ? `${h} h ${m} min` : `${m} min`);
}
function list(id, items) {
  const ul = $(id); ul.replaceChildren();
  for (const text of items) { const li = document.createElement("li"); li.textContent = text; ul.append(li); }
}
function labelsTyped() {
  return [...new Set($("labels").value.split(",").map((s) => s.trim()).filter(Boolean))];
}

// -- the decision form: empty for each case, frozen while its confirmation is shown ---------
function setFormLocked(locked) {
  $("reason").readOnly = locked; $("labels").readOnly = locked;
  for (const action of Object.keys(ACTION_NAMES)) $(action).disabled = locked;
}
function closeConfirmation() {
  pending = null;
  $("confirmation").hidden = true; $("summary").replaceChildren();
  setFormLocked(false);
}
function clearForm() {
  closeConfirmation();
  $("reason").value = ""; $("labels").value = ""; $("message").textContent = "";
}
function askToConfirm(action) {
  if (!current) return;
  pending = {
    caseId: current.case_id,
    body: { action, reason: $("reason").value, labels: labelsTyped() },
  };
  const rows = [
    ["Case", `${current.case_id} (${current.object.key})`],
    ["Action", ACTION_NAMES[action]],
    ["Reason given to the uploader", pending.body.reason || "(none)"],
    ["Labels", pending.body.labels.join(", ") || "(none)"],
  ];
  const summary = $("summary"); summary.replaceChildren();
  for (const [term, text] of rows) {
    const dt = document.createElement("dt"); dt.textContent = term;
    const dd = document.createElement("dd"); dd.textContent = text;
    dd.dataset.field = term.split(" ")[0].toLowerCase();
    summary.append(dt, dd);
  }
  setFormLocked(true);
  $("confirmation").hidden = false;
  $("send").focus();
}
async function send() {
  // What was shown, for the case it was shown for; nothing is read from the form again.
  const decision = pending;
  if (!decision || !current || decision.caseId !== current.case_id) return;
  $("send").disabled = true;
  try {
    const result = await api(`cases/${encodeURIComponent(decision.caseId)}/decision`,
      { method: "POST", body: JSON.stringify(decision.body) });
    clearForm();
    $("message").textContent = `Decision recorded: ${result.decision.action} (case now ${result.status}).`;
    loadQueue();
  } catch (error) {
    closeConfirmation();
    $("message").textContent = "Refused: " + error.message;
  } finally { $("send").disabled = false; }
}

// -- the queue and a case ------------------------------------------------------------------
async function loadQueue() {
  sessionStorage.setItem("cordon-key", $("key").value);
  const body = $("queue");
  try {
    const { cases } = await api("reviews");
    body.replaceChildren();
    if (!cases.length) body.innerHTML = '<tr><td colspan="5" class="hint">Nothing waiting.</td></tr>';
    for (const c of cases) {
      const row = document.createElement("tr"); row.className = "case"; row.dataset.caseId = c.case_id;
      const cells = [`${c.kind === "appeal" ? "appeal " : ""}${c.case_id.slice(0, 14)}… (${c.status})`,
        c.verdict, c.labels.join(", "), duration(c.waiting_seconds), duration(c.seconds_left)];
      cells.forEach((text, i) => { const td = document.createElement("td"); td.textContent = text;
        if (i === 4 && c.seconds_left < 0) td.className = "overdue"; row.append(td); });
      row.addEventListener("click", () => openCase(c.case_id));
      body.append(row);
    }
  } catch (error) { body.innerHTML = ""; const tr = body.insertRow(); tr.textContent = "Error: " + error.message; }
}
async function openCase(caseId) {
  // Another case's reason and labels must never go out with this one: cleared before it loads.
  const ticket = ++opening;
  current = null; clearForm();
  $("case-title").textContent = "Loading…";
  $("evidence").removeAttribute("src");
  for (const id of ["reasons", "matches", "audit"]) list(id, []);
  let c;
  try { c = await api(`cases/${encodeURIComponent(caseId)}`); }
  catch (error) { if (ticket === opening) $("message").textContent = "Error: " + error.message; return; }
  if (ticket !== opening) return;
  current = c;
  $("case").hidden = false;
  $("case-title").textContent = `${c.case_id} — ${c.object.key} (${c.status})`;
  const img = $("evidence"); img.classList.add("veiled"); img.src = c.image_url || "";
  list("reasons", c.verdict.reasons || []);
  list("matches", (c.verdict.matches || []).map((m) =>
    `${m.signal_type} at distance ${m.distance} [${(m.labels || []).join(", ")}] from ${m.source}` +
    (m.variant !== "original" ? ` via ${m.variant}` : "") +
    (m.stored_variant && m.stored_variant !== "original" ? `, meeting the image's stored ${m.stored_variant}` : "")));
  list("audit", (c.audit || []).map((a) => `${a.at} ${a.event} (${a.actor})`));
}

$("key").value = sessionStorage.getItem("cordon-key") || "";
$("evidence").addEventListener("click", () => $("evidence").classList.remove("veiled"));
$("load").addEventListener("click", loadQueue);
for (const action of Object.keys(ACTION_NAMES)) $(action).addEventListener("click", () => askToConfirm(action));
$("send").addEventListener("click", send);
$("back").addEventListener("click", closeConfirmation);
if ($("key").value) loadQueue();
