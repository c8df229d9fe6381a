// The chat simulator page. Everything it sends goes to /sim/api/send, which delivers it to
// the real /wechat webhook the way WeChat's servers would. The thread comes from
// /sim/api/thread, built from what the demo stored (messages and replies in the database,
// pushes in the fake WeChat API's call log), so a reload or a restarted demo shows it
// whole, at the simulated times. No framework and no build step.
"use strict";

const POLL_MS = 2000;
const TIME_GAP_S = 5 * 60;
const PHOTO_URL = "/sim/static/sample-photo.svg";
const store = window.localStorage;

const state = {
  config: null,
  residents: [],          // from the database
  created: [],            // made on this page, not yet known to the database
  openid: store.getItem("aixiang.sim.openid") || "",
  threads: new Map(),     // openid -> [{id, who, kind, text, title, fields, at, time}]
  cursors: new Map(),     // openid -> the cursor of /sim/api/thread's last answer
  polling: false,
  pollError: "",
};

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

async function api(path, options = {}) {
  const response = await fetch(path, {
    headers: { "Content-Type": "application/json" },
    ...options,
  });
  let data = null;
  try {
    data = await response.json();
  } catch (err) {
    throw new Error(`HTTP ${response.status} from ${path}`);
  }
  if (!response.ok) throw new Error(data && data.error ? data.error : `HTTP ${response.status}`);
  return data;
}

// The thread ---------------------------------------------------------------------------

function threadOf(openid) {
  if (!state.threads.has(openid)) state.threads.set(openid, []);
  return state.threads.get(openid);
}

function add(openid, item) {
  const items = threadOf(openid);
  const previous = items[items.length - 1];
  items.push(item);
  if (openid === state.openid) renderItem(item, previous);
}

// A note of the page's own (a refusal, a tapped link): not stored, so gone on reload.
function note(text, openid = state.openid, error = false) {
  add(openid, { who: "system", kind: "note", text, error, at: null });
}

function avatar(who) {
  const node = el("div", `avatar ${who}`);
  if (who === "bot") {
    node.textContent = "爱";
  } else {
    const resident = currentResident();
    node.textContent = resident && resident.name ? resident.name.slice(0, 1) : "我";
  }
  return node;
}

function bubbleContent(item) {
  if (item.kind === "image") {
    const bubble = el("div", "bubble image");
    const img = el("img");
    img.src = PHOTO_URL;
    img.alt = "照片 Photo";
    bubble.appendChild(img);
    return bubble;
  }
  if (item.kind === "location") {
    const bubble = el("div", "bubble location");
    bubble.appendChild(el("div", "loc-name", item.title));
    bubble.appendChild(el("div", "loc-label", item.text));
    bubble.appendChild(el("div", "loc-map"));
    return bubble;
  }
  if (item.kind === "voice") {
    const bubble = el("div", "bubble voice");
    bubble.appendChild(el("div", "voice-wave", "🎤 ))) "));
    bubble.appendChild(el("div", "voice-text", item.text));
    return bubble;
  }
  if (item.kind === "card") {
    // A template message: its title, then each field with the template's label.
    const bubble = el("div", "bubble card");
    bubble.appendChild(el("div", "card-title", item.title));
    for (const field of item.fields) {
      const row = el("div", field.label ? "card-field" : "card-lead");
      if (field.label) row.appendChild(el("span", "card-label", field.label));
      row.appendChild(el("span", "card-value", field.value));
      bubble.appendChild(row);
    }
    bubble.appendChild(el("div", "card-foot", "详情 Details ›"));
    return bubble;
  }
  return el("div", "bubble", item.text);
}

function renderItem(item, previous) {
  const thread = $("thread");
  const empty = thread.querySelector(".empty");
  if (empty) empty.remove();
  // Stored items carry their simulated time; a stamp shows where the time moved on.
  if (item.at !== null && (!previous || previous.at === null || item.at - previous.at > TIME_GAP_S)) {
    thread.appendChild(el("div", "time", item.time));
  }
  if (item.who === "system") {
    thread.appendChild(el("div", `note${item.error ? " error" : ""}`, item.text));
  } else {
    const row = el("div", `msg ${item.who}`);
    row.appendChild(avatar(item.who));
    const column = el("div", "stack");
    if (item.label) column.appendChild(el("div", "label", item.label));
    column.appendChild(bubbleContent(item));
    row.appendChild(column);
    thread.appendChild(row);
  }
  thread.scrollTop = thread.scrollHeight;
}

function renderThread() {
  const thread = $("thread");
  thread.replaceChildren();
  const items = threadOf(state.openid);
  items.forEach((item, i) => renderItem(item, items[i - 1]));
  if (!state.openid) {
    thread.appendChild(el("div", "note", "先选择或新建一位居民 · Choose or create a resident first"));
  } else if (!items.length) {
    thread.appendChild(el("div", "note empty", "发送“帮助”或点下方菜单开始 · Send 帮助 or tap the menu to start"));
  }
}

// Sending ------------------------------------------------------------------------------

// The message and its reply show once the webhook has stored them, from the thread.
async function deliver(payload) {
  const openid = state.openid;
  if (!openid) {
    renderThread();
    return;
  }
  let data;
  try {
    data = await api("/sim/api/send", {
      method: "POST",
      body: JSON.stringify({ ...payload, openid, safe: $("safe-mode").checked }),
    });
  } catch (err) {
    note(`未送达 Not sent: ${err.message}`, openid, true);
    return;
  }
  await poll();
  if (!data.ok) {
    note(`webhook 拒绝 rejected · HTTP ${data.status}: ${data.reason}`, openid, true);
  }
  await loadResidents();
}

function say(text, kind = "text") {
  const trimmed = text.trim();
  if (!trimmed) return;
  deliver({ kind, text: trimmed });
}

function tap(button) {
  closeSubmenus();
  if (button.key) {
    deliver({ kind: "click", key: button.key });
  } else if (button.url) {
    note(`“${button.name}” 会打开网页 would open ${button.url}`);
  }
}

// The custom menu ----------------------------------------------------------------------

function closeSubmenus() {
  document.querySelectorAll(".submenu").forEach((menu) => { menu.hidden = true; });
}

function renderMenu(buttons) {
  const menu = $("menu");
  menu.replaceChildren();
  for (const button of buttons) {
    const slot = el("div", "menu-slot");
    const top = el("button", "menu-button", button.sub_buttons.length ? `≡ ${button.name}` : button.name);
    top.type = "button";
    slot.appendChild(top);
    if (button.sub_buttons.length) {
      const submenu = el("div", "submenu");
      submenu.hidden = true;
      for (const sub of button.sub_buttons) {
        const item = el("button", "submenu-item", sub.name);
        item.type = "button";
        item.addEventListener("click", () => tap(sub));
        submenu.appendChild(item);
      }
      slot.appendChild(submenu);
      top.addEventListener("click", (event) => {
        event.stopPropagation();
        const wasHidden = submenu.hidden;
        closeSubmenus();
        submenu.hidden = !wasHidden;
      });
    } else {
      top.addEventListener("click", () => tap(button));
    }
    menu.appendChild(slot);
  }
}

function setMode(mode) {
  const keyboard = mode === "keyboard";
  $("menu-bar").hidden = keyboard;
  $("input-bar").hidden = !keyboard;
  $("plus-panel").hidden = true;
  closeSubmenus();
  store.setItem("aixiang.sim.mode", mode);
  if (keyboard) $("text").focus();
}

// Residents ----------------------------------------------------------------------------

function currentResident() {
  return state.residents.find((r) => r.openid === state.openid)
    || state.created.find((r) => r.openid === state.openid);
}

function residentLabel(resident) {
  const name = resident.name ? `${resident.name} · ` : "";
  let status = "";
  if (resident.subscribed === undefined) status = "（新 new）";
  else if (!resident.subscribed) status = "（未关注 not following）";
  return `${name}${resident.openid}${status}`;
}

async function loadResidents() {
  try {
    // The selected resident is listed even when older than the newest the list holds.
    state.residents = await api(`/sim/api/residents?selected=${encodeURIComponent(state.openid)}`);
  } catch (err) {
    note(`居民列表不可用 Residents unavailable: ${err.message}`);
    return;
  }
  const known = new Set(state.residents.map((r) => r.openid));
  state.created = state.created.filter((r) => !known.has(r.openid));
  renderResidents();
}

function renderResidents() {
  const select = $("resident");
  select.replaceChildren();
  for (const resident of [...state.residents, ...state.created]) {
    const option = el("option", "", residentLabel(resident));
    option.value = resident.openid;
    select.appendChild(option);
  }
  if (!currentResident() && select.options.length) {
    chooseResident(select.options[0].value);
  }
  select.value = state.openid;
  const resident = currentResident();
  let status = "";
  if (resident && resident.subscribed === undefined) status = "还没有发过消息 · Has not written yet";
  else if (resident && resident.subscribed) status = "已关注 · Following";
  else if (resident) status = "未关注，关注后才能发消息 · Not following: follow to write";
  $("resident-status").textContent = status;
}

function chooseResident(openid) {
  state.openid = openid;
  store.setItem("aixiang.sim.openid", openid);
  renderThread();
  poll();
}

function newResident() {
  const bytes = new Uint8Array(3);
  window.crypto.getRandomValues(bytes);
  const openid = `o-demo-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
  state.created.push({ openid, name: "" });
  chooseResident(openid);
  renderResidents();
  note(`新居民 New resident ${openid} · 点“关注”开始 Tap Follow to start`);
}

// Pushes -------------------------------------------------------------------------------

async function poll() {
  const openid = state.openid;
  if (!openid) return;
  // One poll at a time; a poll asked for meanwhile runs when the current one ends.
  if (state.polling) {
    await state.polling;
    return poll();
  }
  let done;
  state.polling = new Promise((resolve) => { done = resolve; });
  try {
    const since = state.cursors.get(openid) || "";
    const data = await api(
      `/sim/api/thread?openid=${encodeURIComponent(openid)}&since=${encodeURIComponent(since)}`,
    );
    if (data.reset) {
      state.threads.set(openid, []);
      if (openid === state.openid) renderThread();
    }
    for (const item of data.items) add(openid, item);
    state.cursors.set(openid, data.cursor);
    if (openid === state.openid && !threadOf(openid).length) renderThread();
    state.pollError = "";
  } catch (err) {
    if (state.pollError !== err.message) {
      state.pollError = err.message;
      note(`推送不可用 Pushes unavailable: ${err.message}`);
    }
  } finally {
    state.polling = false;
    done();
  }
}

// Wiring -------------------------------------------------------------------------------

function wire() {
  $("resident").addEventListener("change", (event) => chooseResident(event.target.value));
  $("new-resident").addEventListener("click", newResident);
  $("follow").addEventListener("click", () => deliver({ kind: "subscribe" }));
  $("unfollow").addEventListener("click", () => deliver({ kind: "unsubscribe" }));
  $("scan-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("scan-scene").value.trim();
    if (!value) return;
    const scene = /^\d+$/.test(value) ? `checkin:${value}` : value;
    deliver({ kind: "scan", scene });
    $("scan-scene").value = "";
  });
  $("input-bar").addEventListener("submit", (event) => {
    event.preventDefault();
    say($("text").value);
    $("text").value = "";
    $("text").focus();
  });
  $("to-keyboard").addEventListener("click", () => setMode("keyboard"));
  $("to-menu").addEventListener("click", () => setMode("menu"));
  $("plus").addEventListener("click", () => {
    $("plus-panel").hidden = !$("plus-panel").hidden;
    $("thread").scrollTop = $("thread").scrollHeight;
  });
  $("send-photo").addEventListener("click", () => {
    $("plus-panel").hidden = true;
    deliver({ kind: "image" });
  });
  $("send-voice").addEventListener("click", () => {
    $("plus-panel").hidden = true;
    const words = $("text").value.trim();
    if (!words) {
      note("先在输入框写下要说的话 · Type what to say first; it is sent as speech");
      return;
    }
    say(words, "voice");
    $("text").value = "";
  });
  $("send-location").addEventListener("click", () => {
    $("plus-panel").hidden = true;
    deliver({ kind: "location", village: Number($("village").value) });
  });
  $("safe-mode").addEventListener("change", (event) => {
    store.setItem("aixiang.sim.safe", event.target.checked ? "1" : "");
  });
  document.querySelectorAll("#chips [data-say]").forEach((chip) => {
    chip.addEventListener("click", () => say(chip.dataset.say));
  });
  document.querySelectorAll("#clock-card [data-hours]").forEach((button) => {
    button.addEventListener("click", () => {
      const hours = Number(button.dataset.hours);
      moveClock({ hours }, `时间快进 ${hours} 小时 Clock moved forward ${hours} h`);
    });
  });
  $("clock-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const at = $("clock-at").value;
    if (at) moveClock({ at }, `时间设为 Clock set to ${at.replace("T", " ")}`);
  });
  document.addEventListener("click", closeSubmenus);
}

function showClock(clockState) {
  $("clock-card").hidden = false;
  $("clock-now").textContent = clockState.now;
  if (!$("clock-at").value) $("clock-at").value = clockState.now.replace(" ", "T");
  $("clock-ahead").textContent = clockState.ahead_hours
    ? `(+${clockState.ahead_hours} h)`
    : "";
}

async function loadClock() {
  try {
    showClock(await api("/sim/api/clock"));
  } catch (err) {
    $("clock-card").hidden = true;
  }
}

async function moveClock(move, done) {
  try {
    showClock(await api("/sim/api/clock", { method: "POST", body: JSON.stringify(move) }));
    note(done);
  } catch (err) {
    note(`无法调整时间 Could not move the clock: ${err.message}`, state.openid, true);
  }
}

async function start() {
  wire();
  try {
    state.config = await api("/sim/api/config");
  } catch (err) {
    note(`模拟器不可用 Simulator unavailable: ${err.message}`);
    return;
  }
  $("account-name").textContent = state.config.account;
  renderMenu(state.config.menu);
  for (const village of state.config.villages) {
    const option = el("option", "", village.name);
    option.value = String(village.index);
    $("village").appendChild(option);
  }
  const safe = $("safe-mode");
  safe.disabled = !state.config.safe_mode_available;
  safe.checked = state.config.safe_mode_available && store.getItem("aixiang.sim.safe") === "1";
  setMode(store.getItem("aixiang.sim.mode") === "keyboard" ? "keyboard" : "menu");
  await loadResidents();
  await loadClock();
  renderThread();
  poll();
  window.setInterval(poll, POLL_MS);
}

start();
