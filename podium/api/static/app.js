// Podium's live web view: the jobs list and a job's page, read from the orchestrator v1 API and
// kept live by its event streams. No framework and no build step: this file is served as is.
//
// The token the user signs in with stays in this tab's sessionStorage and travels only in the
// X-Authentication header. EventSource cannot send headers, so the streams are read with fetch.
"use strict";

const API = "/orchestrator/v1";
const TOKEN_KEY = "podium.token";
const NODE_STATES = ["new", "running", "finished", "failed", "errored", "skipped"];
const JOB_TERMINAL = new Set(["finished", "failed", "stopped"]);
const NODE_EVENT_STATE = {
  node_running: "running",
  node_finished: "finished",
  node_failed: "failed",
  node_errored: "errored",
  node_skipped: "skipped",
};
const MAX_ROWS = 500; // node rows drawn at once; the filter and search narrow the rest
const MAX_EVENTS = 200; // events kept in a job's event panel
const REPLAY_UP_TO_NODES = 1000; // smaller jobs replay their whole stream: the panel fills
const JOBS_SHOWN = 50;

let view = null; // the view on screen: {close()}

// ---- DOM

function h(tag, props, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key === "class") element.className = value;
    else if (key === "dataset") Object.assign(element.dataset, value);
    else if (key in element && key !== "list") element[key] = value;
    else element.setAttribute(key, value === true ? "" : value);
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined));
  return element;
}

const $ = (id) => document.getElementById(id);

function stateBadge(state, id) {
  return h("span", { class: `badge state-${state}`, id, dataset: { state } }, state);
}

function when(iso) {
  if (!iso) return "";
  const t = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return (
    `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())} ` +
    `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`
  );
}

function seconds(value) {
  if (value === null || value === undefined) return "";
  if (value < 60) return `${value.toFixed(value < 10 ? 1 : 0)} s`;
  const minutes = Math.floor(value / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(value % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

// Runs `work` at most once per `ms`, however often it is asked for.
function throttled(work, ms) {
  let timer = null;
  const run = () => {
    timer = null;
    work();
  };
  const ask = () => {
    if (timer === null) timer = setTimeout(run, ms);
  };
  ask.cancel = () => clearTimeout(timer);
  return ask;
}

// ---- notices

const OFFLINE = "offline"; // the tag of the notice that the server cannot be reached

function showNotice(text, { kind = "", error = Boolean(kind), tag = "" } = {}) {
  const notice = $("notice");
  notice.replaceChildren(
    h("span", { class: "notice-text" }, text),
    kind ? h("code", { class: "notice-kind" }, kind) : null,
    h("button", { type: "button", class: "link", onclick: () => clearNotice() }, "dismiss"),
  );
  notice.className = error ? "notice error" : "notice";
  notice.dataset.tag = tag;
  notice.hidden = false;
}

// Hides the notice; with a tag, only a notice of that tag.
function clearNotice(tag) {
  const notice = $("notice");
  if (tag === undefined || notice.dataset.tag === tag) notice.hidden = true;
}

// ---- the API

class ApiError extends Error {
  constructor(status, body) {
    super(body.msg || `HTTP ${status}`);
    this.status = status;
    this.kind = body.kind || "";
    this.details = body.details || {};
  }
}

const token = () => sessionStorage.getItem(TOKEN_KEY);

async function errorOf(response) {
  const text = await response.text();
  try {
    return new ApiError(response.status, JSON.parse(text));
  } catch {
    return new ApiError(response.status, { msg: `HTTP ${response.status}: ${text.slice(0, 200)}` });
  }
}

async function api(path, { method = "GET", json, signal } = {}) {
  const headers = { "X-Authentication": token() || "" };
  if (json !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(API + path, {
    method,
    headers,
    signal,
    cache: "no-store",
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  if (!response.ok) throw await errorOf(response);
  return response.json();
}

// What every view does with an error: a refused token signs out, anything else is shown.
function failed(error) {
  if (error.name === "AbortError") return;
  if (error instanceof ApiError && error.status === 401) signOut(error.message);
  else if (error instanceof ApiError) showNotice(error.message, { kind: error.kind });
  else showNotice(`The server cannot be reached (${error.message}): trying again`, { error: true, tag: OFFLINE });
}

// The events of an SSE body, one object {id, type, data} each.
async function* serverSentEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = { id: null, type: "message", data: [] };
      for (const line of buffer.slice(0, end).split("\n")) {
        if (!line || line.startsWith(":")) continue; // a comment: the keep-alive
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "id") event.id = text;
        else if (field === "event") event.type = text;
        else if (field === "data") event.data.push(text);
      }
      buffer = buffer.slice(end + 2);
      if (event.data.length) yield { ...event, data: JSON.parse(event.data.join("\n")) };
    }
  }
}

// Follows a stream until `finished()` says so when it ends, or `signal` aborts; a dropped
// connection is resumed from the last event seen (Last-Event-ID), after a growing pause.
async function follow(path, { onEvent, signal, finished }) {
  let lastId = null;
  let pause_ms = 500;
  while (!signal.aborted) {
    const headers = { Accept: "text/event-stream", "X-Authentication": token() || "" };
    if (lastId !== null) headers["Last-Event-ID"] = lastId;
    try {
      const response = await fetch(API + path, { headers, signal, cache: "no-store" });
      if (!response.ok) throw await errorOf(response);
      setLive(true);
      clearNotice(OFFLINE);
      pause_ms = 500;
      for await (const event of serverSentEvents(response.body)) {
        if (event.id !== null) lastId = event.id;
        onEvent(event.data);
      }
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ApiError && error.status < 500) return failed(error); // won't mend
      if (error instanceof ApiError) showNotice(`${error.message}: trying again`, { kind: error.kind, tag: OFFLINE });
      else failed(error);
    } finally {
      setLive(false);
    }
    if (finished()) return;
    await sleep(pause_ms, signal);
    pause_ms = Math.min(pause_ms * 2, 4000);
  }
}

let streams = 0;
function setLive(on) {
  streams += on ? 1 : -1;
  $("live").hidden = streams <= 0;
}

// ---- node counts, as a bar and a legend

function countsOf(job) {
  return Object.fromEntries(NODE_STATES.map((state) => [state, (job.node_states || {})[state] || 0]));
}

function stateBar(counts, total) {
  return h(
    "div",
    { class: "bar", role: "img", "aria-label": "node states" },
    NODE_STATES.filter((state) => counts[state]).map((state) => {
      const segment = h("span", { class: `seg state-${state}`, title: `${counts[state]} ${state}` });
      segment.style.width = `${(100 * counts[state]) / Math.max(total, 1)}%`; // CSSOM: CSP allows it
      return segment;
    }),
  );
}

function legend(counts, onPick) {
  return NODE_STATES.filter((state) => counts[state] || onPick).map((state) =>
    h(
      onPick ? "button" : "span",
      {
        type: onPick ? "button" : undefined,
        class: `count state-${state}`,
        dataset: { state },
        onclick: onPick ? () => onPick(state) : undefined,
      },
      h("span", { class: "n" }, String(counts[state])),
      ` ${state}`,
    ),
  );
}

function jobWhat(job) {
  const options = job.options || {};
  if (job.type === "deploy") return `deploy ${(job.environment || {}).name || ""}`.trim();
  return options.task || job.type;
}

// ---- sign in

function signInView(main, message) {
  $("sign-out").hidden = true;
  const input = h("input", {
    id: "token",
    type: "password",
    autocomplete: "off",
    required: true,
    placeholder: "the token",
  });
  const error = h("p", { id: "sign-in-error", class: "error", role: "alert" }, message || "");
  const submit = async (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    try {
      await api("/jobs?limit=1");
      route();
    } catch (refused) {
      sessionStorage.removeItem(TOKEN_KEY);
      error.textContent = refused.message;
    }
  };
  main.append(
    h(
      "form",
      { id: "sign-in", class: "card sign-in", onsubmit: submit },
      h("h1", {}, "Sign in"),
      h("label", { for: "token" }, "Token"),
      input,
      h("button", { type: "submit", class: "primary" }, "Sign in"),
      error,
      h(
        "p",
        { class: "hint" },
        "An RBAC token, as for the API. `podium serve` writes the admin's to data/admin.token. " +
          "It is kept in this tab's session only and sent in the X-Authentication header.",
      ),
    ),
  );
  input.focus();
  return { close() {} };
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  if (view) view.close();
  const main = $("main");
  main.replaceChildren();
  view = signInView(main, message);
}

// ---- the jobs list

function jobsView(main) {
  const controller = new AbortController();
  const signal = controller.signal;
  const body = h("tbody", { id: "jobs" });
  const empty = h("p", { class: "empty", hidden: true }, "No jobs yet.");
  main.append(
    h(
      "section",
      { class: "card" },
      h("h1", {}, "Jobs"),
      h(
        "table",
        { class: "jobs" },
        h(
          "thead",
          {},
          h("tr", {}, ["Job", "What", "State", "Nodes", "Owner", "Started", "Duration"].map((t) => h("th", {}, t))),
        ),
        body,
      ),
      empty,
    ),
  );
  let asked = 0;
  const load = async () => {
    const ask = ++asked;
    try {
      const answer = await api(`/jobs?order_by=name&order=desc&limit=${JOBS_SHOWN}`, { signal });
      if (ask !== asked) return; // a later answer is on its way
      body.replaceChildren(...answer.items.map(jobRow));
      empty.hidden = answer.items.length > 0;
    } catch (error) {
      failed(error);
    }
  };
  const refresh = throttled(load, 250); // one read per burst of events, not one per event
  load();
  follow("/events", { onEvent: refresh, signal, finished: () => false });
  const poll = setInterval(refresh, 5000); // a job shows no event until its first node runs
  return {
    close() {
      controller.abort();
      refresh.cancel();
      clearInterval(poll);
    },
  };
}

function jobRow(job) {
  const counts = countsOf(job);
  const owner = job.owner || {};
  return h(
    "tr",
    { dataset: { job: job.name, state: job.state } },
    h("td", {}, h("a", { href: `#/jobs/${encodeURIComponent(job.name)}` }, `#${job.name}`)),
    h("td", { class: "what" }, jobWhat(job), job.description ? h("div", { class: "muted" }, job.description) : null),
    h("td", {}, stateBadge(job.state)),
    h(
      "td",
      { class: "nodes" },
      stateBar(counts, job.node_count),
      h("div", { class: "legend" }, h("span", { class: "total" }, `${job.node_count} nodes`), legend(counts)),
    ),
    h("td", {}, owner.display_name || owner.login || ""),
    h("td", { class: "time" }, when(job.started_timestamp)),
    h("td", { class: "time" }, seconds(job.duration)),
  );
}

// ---- a job's page

function jobView(main, name) {
  const controller = new AbortController();
  const signal = controller.signal;
  const path = `/jobs/${encodeURIComponent(name)}`;
  const nodes = new Map(); // name -> the node as GET /jobs/<id>/nodes shows it, kept current
  const events = []; // newest first
  const expanded = new Set();
  let job = null;
  let finishedSeen = false;
  let stateFilter = "";
  let search = "";

  const title = h("h1", {}, `Job #${name}`);
  const headState = h("span", { id: "job-state-slot" });
  const meta = h("dl", { class: "meta" });
  const stopButton = h("button", { id: "stop", type: "button", onclick: () => stop(false) }, "Stop");
  const forceButton = h(
    "button",
    { id: "force-stop", type: "button", class: "danger", onclick: () => stop(true), title: "Stop, and kill the runs in progress" },
    "Force stop",
  );
  const barSlot = h("div", { id: "bar" });
  const counts = h("div", { id: "counts", class: "legend" });
  const filter = h(
    "select",
    { id: "node-filter", onchange: () => pick(filter.value) },
    h("option", { value: "" }, "every state"),
    NODE_STATES.map((state) => h("option", { value: state }, state)),
  );
  const searchBox = h("input", {
    id: "node-search",
    type: "search",
    placeholder: "search nodes by name",
    oninput: () => {
      search = searchBox.value.trim().toLowerCase();
      render();
    },
  });
  const rows = h("tbody", { id: "nodes" });
  const shown = h("p", { id: "nodes-shown", class: "muted" });
  const eventList = h("ol", { id: "events", class: "events" });

  main.append(
    h(
      "section",
      { class: "card" },
      h("div", { class: "job-head" }, h("a", { href: "#/", class: "back" }, "← Jobs"), title, headState, h("span", { class: "spacer" }), stopButton, forceButton),
      meta,
      barSlot,
      counts,
    ),
    h(
      "div",
      { class: "columns" },
      h(
        "section",
        { class: "card grow" },
        h("div", { class: "toolbar" }, h("h2", {}, "Nodes"), filter, searchBox),
        h("table", { class: "nodes" }, h("thead", {}, h("tr", {}, ["Node", "State", "Started", "Duration", "Result"].map((t) => h("th", {}, t)))), rows),
        shown,
      ),
      h("section", { class: "card side" }, h("h2", {}, "Events"), eventList),
    ),
  );

  function pick(state) {
    stateFilter = stateFilter === state ? "" : state;
    filter.value = stateFilter;
    render();
  }

  const draw = throttled(render, 100);
  const refreshJob = throttled(async () => {
    try {
      job = await api(path, { signal });
      draw();
    } catch (error) {
      failed(error);
    }
  }, 500);

  async function stop(force) {
    try {
      await api("/command/stop", { method: "POST", json: force ? { job: name, force } : { job: name }, signal });
      showNotice(force ? `Job ${name}: force stop requested` : `Job ${name}: stop requested`);
      refreshJob();
    } catch (error) {
      failed(error);
    }
  }

  function onEvent(event) {
    events.unshift(event);
    if (events.length > MAX_EVENTS) events.pop();
    const state = NODE_EVENT_STATE[event.type];
    const node = state && nodes.get(event.details.node);
    if (node && Number(event.id) > Number(node["latest-event-id"] || 0)) {
      node.state = state;
      node["latest-event-id"] = Number(event.id);
      node.details = { message: event.message };
      if (state === "running") node.start_timestamp = event.timestamp;
      else {
        node.finish_timestamp = event.timestamp;
        if (state !== "skipped") node.result = event.details.detail;
      }
      // Events carry whole seconds: a rough duration until the nodes are read again.
      node.duration = node.start_timestamp && node.finish_timestamp
        ? (Date.parse(node.finish_timestamp) - Date.parse(node.start_timestamp)) / 1000
        : null;
      node.rough = true;
    }
    if (event.type === "job_finished") {
      finishedSeen = true;
      loadNodes().then(draw, failed); // the exact durations and messages, once
    }
    refreshJob();
    draw();
  }

  async function loadNodes() {
    const answer = await api(`${path}/nodes`, { signal });
    for (const node of answer.items) nodes.set(node.name, node);
    return answer;
  }

  function render() {
    if (!job) return;
    const tally = Object.fromEntries(NODE_STATES.map((state) => [state, 0]));
    for (const node of nodes.values()) tally[node.state] += 1;
    headState.replaceChildren(stateBadge(job.state, "job-state"));
    document.title = `Job #${name} ${job.state} · Podium`;
    meta.replaceChildren(
      ...[
        ["What", jobWhat(job)],
        ["Owner", (job.owner || {}).display_name || (job.owner || {}).login],
        ["Environment", (job.environment || {}).name],
        ["Started", when(job.started_timestamp)],
        ["Finished", when(job.finished_timestamp)],
        ["Duration", seconds(job.duration)],
        ["Description", job.description],
      ]
        .filter(([, value]) => value)
        .flatMap(([label, value]) => [h("dt", {}, label), h("dd", {}, value)]),
    );
    const ended = JOB_TERMINAL.has(job.state);
    stopButton.disabled = ended || job.state === "stopping";
    forceButton.disabled = ended;
    barSlot.replaceChildren(stateBar(tally, nodes.size));
    counts.replaceChildren(h("span", { class: "total" }, `${nodes.size} nodes`), ...legend(tally, pick));
    for (const button of counts.querySelectorAll("button")) {
      button.classList.toggle("picked", button.dataset.state === stateFilter);
    }
    renderNodes();
    eventList.replaceChildren(...events.map(eventItem));
  }

  function renderNodes() {
    const matching = [];
    for (const node of nodes.values()) {
      if (stateFilter && node.state !== stateFilter) continue;
      if (search && !node.name.toLowerCase().includes(search)) continue;
      matching.push(node);
    }
    const drawn = matching.slice(0, MAX_ROWS).flatMap(nodeRows);
    rows.replaceChildren(...drawn);
    shown.textContent =
      matching.length > MAX_ROWS
        ? `Showing ${MAX_ROWS} of ${matching.length} matching nodes: filter or search for the others.`
        : `${matching.length} of ${nodes.size} nodes`;
  }

  function nodeRows(node) {
    const open = expanded.has(node.name);
    const toggle = () => {
      if (open) expanded.delete(node.name);
      else expanded.add(node.name);
      render();
    };
    const row = h(
      "tr",
      { class: open ? "node open" : "node", dataset: { node: node.name, state: node.state }, onclick: toggle },
      h("td", { class: "name" }, node.name),
      h("td", {}, stateBadge(node.state)),
      h("td", { class: "time" }, when(node.start_timestamp)),
      h("td", { class: "time" }, nodeDuration(node)),
      h("td", { class: `result ${node.state}` }, resultSummary(node)),
    );
    if (!open) return [row];
    const detail = node.result === null || node.result === undefined ? "(no result)" : JSON.stringify(node.result, null, 2);
    return [row, h("tr", { class: "detail", dataset: { detailOf: node.name } }, h("td", { colSpan: 5 }, h("pre", {}, detail)))];
  }

  function eventItem(event) {
    return h(
      "li",
      { class: `event ${event.type}`, dataset: { type: event.type, id: event.id } },
      h("span", { class: "time" }, when(event.timestamp).slice(11)),
      h("span", { class: "type" }, event.type),
      h("span", { class: "message" }, event.message),
    );
  }

  (async () => {
    try {
      job = await api(path, { signal });
      const answer = await loadNodes();
      render();
      const start = job.node_count <= REPLAY_UP_TO_NODES ? 1 : Number(answer["next-events"].event);
      const over = () => finishedSeen || (start > 1 && JOB_TERMINAL.has(job.state));
      await follow(`${path}/events?start=${start}`, { onEvent, signal, finished: over });
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        main.replaceChildren(h("section", { class: "card" }, h("h1", {}, `Job #${name}`), h("p", { class: "error", id: "job-error" }, error.message)));
      }
      failed(error);
    }
  })();

  return {
    close() {
      controller.abort();
      draw.cancel();
      refreshJob.cancel();
    },
  };
}

// How long a node's run took; a running node's time is not shown (it would not move).
function nodeDuration(node) {
  if (node.state === "running" || node.duration === null || node.duration === undefined) return "";
  return node.rough ? `${Math.round(node.duration)} s` : seconds(node.duration);
}

// What a node's result says in one line: the error's message (the task's, or the run's own
// {kind, msg, details}), the task's output, or the Puppet run's status.
function resultSummary(node) {
  const result = node.result;
  if (result && typeof result === "object") {
    if (result._error && result._error.msg) return result._error.msg;
    if (typeof result.kind === "string" && typeof result.msg === "string") return result.msg;
    if (typeof result._output === "string") return result._output.trim().slice(0, 200);
    if (typeof result.status === "string") {
      const metrics = result.metrics || {};
      return `puppet: ${result.status}${metrics.changed ? `, ${metrics.changed} changed` : ""}${metrics.failed ? `, ${metrics.failed} failed` : ""}`;
    }
    return JSON.stringify(result).slice(0, 200);
  }
  if (node.state === "new" || node.state === "running") return "";
  return (node.details && node.details.message) || "";
}

// ---- routing: #/ is the jobs list, #/jobs/<name> a job's page

function route() {
  if (view) view.close();
  clearNotice();
  const main = $("main");
  main.replaceChildren();
  if (!token()) {
    view = signInView(main);
    return;
  }
  $("sign-out").hidden = false;
  const match = location.hash.match(/^#\/jobs\/([^/]+)$/);
  view = match ? jobView(main, decodeURIComponent(match[1])) : jobsView(main);
}

$("sign-out").addEventListener("click", () => signOut("Signed out."));
window.addEventListener("hashchange", route);
route();
