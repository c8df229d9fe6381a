// The chat simulator page. Everything it sends goes to /sim/api/send, which delivers it to
// the real /wechat webhook the way WeChat's servers would; pushes are polled from the fake
// WeChat API's call log through /sim/api/pushes. No framework and no build step.
"use strict";

const POLL_MS = 2000;
const TIME_GAP_MS = 5 * 60 * 1000;
const PHOTO_URL = "/sim/static/sample-photo.svg";
const CARD_ENDPOINTS = new Set(["message/template/send", "message/subscribe/bizsend"]);
const store = window.localStorage;

const state = {
  config: null,
  residents: [],          // from the database
  created: [],            // made on this page, not yet known to the database
  openid: store.getItem("aixiang.sim.openid") || "",
  threads: new Map(),     // openid -> [{who, kind, text, title, time}]
  lastSeq: new Map(),     // openid -> the fake API's last call number seen
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
  const entry = { time: Date.now(), ...item };
  const items = threadOf(openid);
  const previous = items[items.length - 1];
  items.push(entry);
  if (openid === state.openid) renderItem(entry, previous);
}

function note(text, openid = state.openid) {
  add(openid, { who: "system", kind: "note", text });
}

function clock(time) {
  const d = new Date(time);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
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
  if (item.kind === "card") {
    const bubble = el("div", "bubble card");
    bubble.appendChild(el("div", "card-title", item.title));
    bubble.appendChild(el("div", "card-body", item.text));
    bubble.appendChild(el("div", "card-foot", "详情 Details ›"));
    return bubble;
  }
  return el("div", "bubble", item.text);
}

function renderItem(item, previous) {
  const thread = $("thread");
  const empty = thread.querySelector(".empty");
  if (empty) empty.remove();
  if (!previous || item.time - previous.time > TIME_GAP_MS) {
    thread.appendChild(el("div", "time", clock(item.time)));
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

async function deliver(payload, mine) {
  const openid = state.openid;
  if (!openid) {
    renderThread();
    return;
  }
  if (mine) add(openid, mine);
  let data;
  try {
    data = await api("/sim/api/send", {
      method: "POST",
      body: JSON.stringify({ ...payload, openid, safe: $("safe-mode").checked }),
    });
  } catch (err) {
    add(openid, { who: "system", kind: "note", error: true, text: `未送达 Not sent: ${err.message}` });
    return;
  }
  if (!data.ok) {
    add(openid, {
      who: "system", kind: "note", error: true,
      text: `webhook 拒绝 rejected · HTTP ${data.status}: ${data.reason}`,
    });
  } else if (data.reply) {
    add(openid, { who: "bot", kind: "text", text: data.reply });
  } else if (data.reply_type) {
    add(openid, { who: "bot", kind: "text", text: `[${data.reply_type}]` });
  }
  await loadResidents();
  poll();
}

function say(text) {
  const trimmed = text.trim();
  if (!trimmed) return;
  deliver({ kind: "text", text: trimmed }, { who: "me", kind: "text", text: trimmed });
}

function tap(button) {
  closeSubmenus();
  if (button.key) {
    note(`点击菜单 Tapped “${button.name}”`);
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
  else if (resident) status = "未关注 · Not following";
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
  if (!openid || state.polling) return;
  state.polling = true;
  try {
    const since = state.lastSeq.get(openid) || 0;
    const data = await api(`/sim/api/pushes?openid=${encodeURIComponent(openid)}&since=${since}`);
    for (const push of data.messages) {
      // Template and subscription messages are cards on a phone; the rest are bubbles.
      const card = CARD_ENDPOINTS.has(push.endpoint);
      add(openid, {
        who: "bot",
        kind: card ? "card" : "text",
        title: push.title,
        label: card ? "" : push.title,
        text: push.text,
      });
    }
    state.lastSeq.set(openid, data.last_seq);
    state.pollError = "";
  } catch (err) {
    if (state.pollError !== err.message) {
      state.pollError = err.message;
      note(`推送不可用 Pushes unavailable: ${err.message}`);
    }
  } finally {
    state.polling = false;
  }
}

// Wiring -------------------------------------------------------------------------------

function wire() {
  $("resident").addEventListener("change", (event) => chooseResident(event.target.value));
  $("new-resident").addEventListener("click", newResident);
  $("follow").addEventListener("click", () => {
    note("你关注了公众号 You followed the account");
    deliver({ kind: "subscribe" });
  });
  $("unfollow").addEventListener("click", () => {
    note("你取消了关注 You unfollowed the account");
    deliver({ kind: "unsubscribe" });
  });
  $("scan-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("scan-scene").value.trim();
    if (!value) return;
    const scene = /^\d+$/.test(value) ? `checkin:${value}` : value;
    note(`扫描二维码 Scanned QR · ${scene}`);
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
    deliver({ kind: "image" }, { who: "me", kind: "image" });
  });
  $("send-location").addEventListener("click", () => {
    $("plus-panel").hidden = true;
    const index = Number($("village").value);
    const village = state.config.villages[index];
    deliver(
      { kind: "location", village: index },
      { who: "me", kind: "location", title: village.name, text: village.label },
    );
  });
  $("safe-mode").addEventListener("change", (event) => {
    store.setItem("aixiang.sim.safe", event.target.checked ? "1" : "");
  });
  document.querySelectorAll("#chips [data-say]").forEach((chip) => {
    chip.addEventListener("click", () => say(chip.dataset.say));
  });
  document.querySelectorAll("#clock-card [data-hours]").forEach((button) => {
    button.addEventListener("click", () => advanceClock(Number(button.dataset.hours)));
  });
  document.addEventListener("click", closeSubmenus);
}

function showClock(clockState) {
  $("clock-card").hidden = false;
  $("clock-now").textContent = clockState.now;
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

async function advanceClock(hours) {
  try {
    showClock(await api("/sim/api/clock", { method: "POST", body: JSON.stringify({ hours }) }));
    note(`时间快进 ${hours} 小时 Clock moved forward ${hours} h`);
  } catch (err) {
    note(`无法调整时间 Could not move the clock: ${err.message}`);
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
