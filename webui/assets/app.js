// meshgate status page: renders /api/status and refreshes it every few
// seconds. Every value from the document goes into the page as text
// (textContent, never innerHTML), so a hostile peer or node name stays text.
"use strict";

const REFRESH_MS = 3000;
let serverSkew = 0; // server clock minus ours, in seconds (from the Date header)

function $(id) { return document.getElementById(id); }

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function list(v) { return Array.isArray(v) ? v : []; }
function str(v, dflt) { return typeof v === "string" && v !== "" ? v : (dflt || "-"); }
function bare(addr) { return String(addr).replace(/\/(32|128)$/, ""); }

function age(unix) {
  if (typeof unix !== "number" || unix <= 0) return "never";
  const now = Date.now() / 1000 + serverSkew;
  let s = Math.max(0, Math.floor(now - unix));
  if (s < 60) return s + "s ago";
  if (s < 3600) return Math.floor(s / 60) + "m ago";
  if (s < 86400) return Math.floor(s / 3600) + "h ago";
  return Math.floor(s / 86400) + "d ago";
}

function bytes(n) {
  if (typeof n !== "number" || n < 0) return "-";
  if (n < 1024) return n + " B";
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = n / 1024, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return v.toFixed(1) + " " + units[i];
}

function yesno(b, yes, no) {
  return el("span", b ? (yes || "yes") : (no || "no"), b ? "ok" : "muted");
}

function fact(dl, label, value) {
  dl.appendChild(el("dt", label));
  const dd = el("dd");
  if (value instanceof Node) dd.appendChild(value); else dd.textContent = String(value);
  dl.appendChild(dd);
}

// Advertised routes with their approval state, when the document knows it.
function routeStates(self) {
  const approved = self.approved_routes || self.routes_approved;
  const out = el("span");
  const routes = list(self.advertised_routes);
  if (routes.length === 0) { out.textContent = "none"; return out; }
  routes.forEach((r, i) => {
    if (i) out.appendChild(document.createTextNode(", "));
    out.appendChild(el("code", r));
    if (Array.isArray(approved)) {
      const ok = approved.includes(r);
      out.appendChild(el("span", ok ? " approved" : " pending", ok ? "ok" : "unknown"));
    }
  });
  return out;
}

// self.exit_node: {wanted, state: "off"|"in_use"|"blocked", reason}.
function exitInUse(self) {
  const x = self.exit_node;
  if (x && x.state === "blocked") return el("span", str(x.wanted) + " (blocked)", "bad");
  return str(self.exit_node_in_use, "none");
}

// A banner while internet traffic is blocked: the chosen exit cannot
// carry it (the daemon drops it rather than send it outside the mesh).
function renderExitBanner(self) {
  const x = self.exit_node, banner = $("exit-banner");
  const blocked = !!x && typeof x === "object" && x.state === "blocked";
  banner.hidden = !blocked;
  banner.textContent = blocked
    ? str(x.reason, "internet traffic is blocked: exit node " + str(x.wanted) + " is unavailable")
    : "";
}

function renderSelf(self, daemon) {
  $("self-name").textContent = str(self.name, "");
  document.title = "meshgate " + str(self.name, "");
  const dl = $("self-facts");
  dl.replaceChildren();
  fact(dl, "Name", str(self.name));
  fact(dl, "Addresses", list(self.addresses).map(bare).join(", ") || "-");
  const key = str(self.public_key);
  const k = el("code", key.length > 12 ? key.slice(0, 10) + "\u2026" : key);
  k.title = key;
  fact(dl, "Key", k);
  if (typeof self.listen_port === "number") fact(dl, "UDP port", self.listen_port);
  // role_origin: "config", "meshgate init" or "meshgate join".
  const origin = typeof self.role_origin === "string" ? " (" + self.role_origin + ")" : "";
  fact(dl, "Coordinator", yesno(self.coordinator === true, "yes" + origin));
  // preferences: {exit_node: {value, origin}, ...}; origin "meshgate set"
  // where an override of the config decides.
  const prefs = self.preferences || {};
  const set = Object.keys(prefs).filter((k) => prefs[k] && prefs[k].origin === "meshgate set");
  if (set.length) fact(dl, "Set by meshgate set", set.map((k) => k.replace(/_/g, " ")).join(", "));
  fact(dl, "Routes", routeStates(self));
  fact(dl, "Exit node offered", yesno(self.exit_node_offered === true));
  fact(dl, "Exit node in use", exitInUse(self));
  if (daemon && typeof daemon.started_at === "number") fact(dl, "Started", age(daemon.started_at));
  $("version").textContent = daemon && daemon.version ? "meshgate " + daemon.version : "";
}

function cell(tr, label, value, cls) {
  const td = el("td", null, cls);
  td.setAttribute("data-label", label);
  if (value instanceof Node) td.appendChild(value); else td.textContent = String(value);
  tr.appendChild(td);
  return td;
}

// "in use": this node sends its internet traffic there; "offered": an
// approved exit it could pick (exit_node_offered).
function exitState(p) {
  if (p.exit_node === true) return el("span", "in use", "ok");
  if (p.exit_node_offered === true) return el("span", "offered", "ok");
  if (p.exit_offer === "pending") return el("span", "pending approval", "unknown");
  if (p.exit_offer === "approved") return el("span", "offered, offline", "muted");
  return el("span", "-", "muted");
}

function renderPeers(peers) {
  const body = $("peer-table").tBodies[0];
  body.replaceChildren();
  const online = peers.filter((p) => p && p.online === true).length;
  $("peer-count").textContent = "(" + online + " of " + peers.length + " online)";
  if (peers.length === 0) {
    const tr = el("tr");
    cell(tr, "", "no peers", "muted").colSpan = 10;
    body.appendChild(tr);
    return;
  }
  for (const p of peers) {
    if (!p || typeof p !== "object") continue;
    const tr = el("tr");
    tr.className = "peer";
    cell(tr, "Name", str(p.name), "peer-name");
    cell(tr, "Addresses", list(p.addresses).map(bare).join(", ") || "-", "wrap");
    const path = str(p.path, "none");
    cell(tr, "Path", el("span", path, path === "none" ? "muted" : path === "relay" ? "unknown" : "ok"));
    cell(tr, "Endpoint", str(p.endpoint));
    cell(tr, "Handshake", age(p.last_handshake));
    cell(tr, "Rx", bytes(p.rx_bytes));
    cell(tr, "Tx", bytes(p.tx_bytes));
    cell(tr, "Routes", list(p.routes).join(", ") || "-", "wrap");
    cell(tr, "Exit", exitState(p));
    cell(tr, "Online", yesno(p.online === true, "online", "offline"));
    body.appendChild(tr);
  }
}

// Stock WireGuard devices (phones, laptops with the official app). Engine
// facts only for the devices this node is the hub of; the others show
// their hub. The document never has a device's key.
function renderDevices(devices) {
  $("devices").hidden = devices.length === 0;
  const body = $("device-table").tBodies[0];
  body.replaceChildren();
  const here = devices.filter((d) => d && d.attached === true);
  const online = here.filter((d) => d.online === true).length;
  const elsewhere = devices.length - here.length;
  $("device-count").textContent = "(" + here.length + " on this node, " + online + " online" +
    (elsewhere ? "; " + elsewhere + " on other hubs)" : ")");
  for (const d of devices) {
    if (!d || typeof d !== "object") continue;
    const attached = d.attached === true;
    const tr = el("tr");
    tr.className = "device";
    cell(tr, "Name", str(d.name), "device-name");
    cell(tr, "Addresses", list(d.addresses).map(bare).join(", ") || "-", "wrap");
    cell(tr, "Hub", attached ? str(d.hub) + " (this node)" : str(d.hub));
    cell(tr, "Endpoint", attached ? str(d.endpoint) : "-");
    cell(tr, "Handshake", attached ? age(d.last_handshake) : "-");
    cell(tr, "Rx", attached ? bytes(d.rx_bytes) : "-");
    cell(tr, "Tx", attached ? bytes(d.tx_bytes) : "-");
    cell(tr, "Exit", yesno(d.exit_node === true, "allowed", "-"));
    cell(tr, "Online", attached ? yesno(d.online === true, "online", "offline")
      : el("span", "via hub", "muted"));
    body.appendChild(tr);
  }
}

function renderPreflight(checks) {
  const ul = $("preflight-list");
  ul.replaceChildren();
  if (!Array.isArray(checks)) { ul.appendChild(el("li", "not reported", "muted")); return; }
  for (const c of checks) {
    if (!c || typeof c !== "object") continue;
    const li = el("li");
    const state = c.ok === true ? "ok" : c.ok === false ? "bad" : "unknown";
    li.appendChild(el("span", c.ok === true ? "\u2713 " : c.ok === false ? "\u2717 " : "? ", state));
    li.appendChild(el("strong", str(c.check)));
    li.appendChild(document.createTextNode(": " + str(c.message, "")));
    if (c.ok !== true && typeof c.fix === "string" && c.fix !== "") li.appendChild(el("code", c.fix, "fix"));
    ul.appendChild(li);
  }
}

// The coordinator's public address by STUN ("coordinator": public_endpoint
// and stun), as `meshgate status` words it.
function publicAddress(coord) {
  const stun = coord.stun || {};
  const pub = coord.public_endpoint;
  if (stun.servers === 0 && typeof pub !== "string") return "STUN off";
  if (typeof pub !== "string") return "unknown" + (stun.error ? " (" + str(stun.error) + ")" : "");
  return pub + " (STUN, NAT " + str(stun.nat) +
    (stun.nat === "symmetric" ? ", not usable in invites" : "") + ")";
}

// The coordinator's view, if the document has one: its nodes and the routes
// waiting for approval. Every field is optional.
function renderCoordinator(coord) {
  const nodes = coord && Array.isArray(coord.nodes) ? coord.nodes : null;
  $("coordinator").hidden = nodes === null;
  if (nodes === null) return;
  const body = $("node-table").tBodies[0];
  body.replaceChildren();
  for (const n of nodes) {
    if (!n || typeof n !== "object") continue;
    const approved = list(n.routes_approved || n.approved_routes);
    const advertised = list(n.routes_advertised || n.advertised_routes);
    const pending = Array.isArray(n.routes_pending) ? n.routes_pending
      : advertised.filter((r) => !approved.includes(r));
    const tr = el("tr");
    cell(tr, "Name", str(n.name) + (n.coordinator === true ? " (coordinator)" : ""));
    cell(tr, "Addresses", list(n.addresses).map(bare).join(", ") || "-", "wrap");
    cell(tr, "Online", yesno(n.online === true, "online", "offline"));
    cell(tr, "Last seen", age(n.last_seen));
    cell(tr, "Approved", approved.join(", ") || "-", "wrap");
    cell(tr, "Pending", el("span", pending.join(", ") || "-", pending.length ? "unknown" : "muted"), "wrap");
    body.appendChild(tr);
  }
}

// A Unix time as local "2026-12-03 18:04:12", as `meshgate log` prints it.
function when(unix) {
  if (typeof unix !== "number") return "-";
  const d = new Date(unix * 1000);
  const two = (n) => String(n).padStart(2, "0");
  return d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate()) + " " +
    two(d.getHours()) + ":" + two(d.getMinutes()) + ":" + two(d.getSeconds());
}

// The coordinator's audit log ("coordinator": audit, newest first).
function renderAudit(coord) {
  const entries = coord && Array.isArray(coord.audit) ? coord.audit : null;
  $("audit").hidden = entries === null;
  if (entries === null) return;
  const body = $("audit-table").tBodies[0];
  body.replaceChildren();
  for (const e of entries) {
    if (!e || typeof e !== "object") continue;
    const tr = el("tr", undefined, "audit");
    cell(tr, "Time", when(e.time));
    cell(tr, "Who", str(e.actor));
    cell(tr, "Action", str(e.action));
    cell(tr, "Subject", str(e.subject));
    cell(tr, "Detail", str(e.detail), "wrap");
    body.appendChild(tr);
  }
}

// The access policy's share this node enforces ("policy": default,
// revision, entries), as `meshgate status` words it; null without one.
function policyLine(policy) {
  if (!policy || typeof policy.revision !== "number" || policy.revision === 0) return null;
  const n = typeof policy.entries === "number" ? policy.entries : 0;
  return str(policy.default) + " by default, revision " + policy.revision + ", " +
    n + (n === 1 ? " entry" : " entries") + " enforced here";
}

async function refresh() {
  try {
    const resp = await fetch("/api/status", { cache: "no-store", credentials: "same-origin" });
    if (!resp.ok) throw new Error("HTTP " + resp.status);
    const date = Date.parse(resp.headers.get("Date") || "");
    if (!Number.isNaN(date)) serverSkew = (date - Date.now()) / 1000;
    const doc = await resp.json();
    renderSelf(doc.self || {}, doc.daemon);
    if (doc.coordinator && doc.coordinator.stun) fact($("self-facts"), "Public address", publicAddress(doc.coordinator));
    if (policyLine(doc.policy)) fact($("self-facts"), "Access policy", policyLine(doc.policy));
    renderExitBanner(doc.self || {});
    renderPeers(list(doc.peers));
    renderDevices(list(doc.devices));
    renderPreflight(doc.preflight);
    renderCoordinator(doc.coordinator);
    renderAudit(doc.coordinator);
    $("state").textContent = "updated " + new Date().toLocaleTimeString();
    $("state").className = "muted";
  } catch (e) {
    $("state").textContent = "cannot reach the daemon (" + e.message + "); retrying";
    $("state").className = "bad";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  refresh();
  setInterval(refresh, REFRESH_MS);
});
