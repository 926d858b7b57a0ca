// The browser console of `voice-agent serve`: one WebSocket session (docs/serve.md), fed by the
// microphone (push-to-talk or hands-free), an uploaded file or the text box; each turn is shown
// as a card with what was heard, the emotion, every tool call and its outcome, the reply (played
// as it arrives, kept for replay) and the turn's timings.

const RATE = 16000;
const FRAME = 512; // 32 ms at 16 kHz
const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.search).get("token");

let socket = null;
let announced = null; // the audio_chunk frame whose PCM16 is the next binary frame
let card = null; // the turn being shown
let lastCard = null;
let player = null;
let playing = [];
let playAt = 0;
let capture = null;
let handsFree = false;
let talking = false;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function status(text, kind) {
  $("status").textContent = text;
  $("status").className = "status " + (kind || "");
}

function notice(text) {
  $("notice").textContent = text;
  $("notice").hidden = !text;
}

function turnCard() {
  if (!card) {
    card = el("article", "turn");
    card.dataset.playedMs = "0";
    card.append(el("p", "heard", "…"), el("div", "tags"), el("div", "calls"));
    card.chunks = [];
    $("turns").append(card);
    lastCard = card;
  }
  return card;
}

function tag(text, title) {
  const shown = el("span", "tag", text);
  if (title) shown.title = title;
  turnCard().querySelector(".tags").append(shown);
}

function showCall(event) {
  const call = el("div", "call running");
  call.id = "call-" + event.call_id;
  call.dataset.name = event.name;
  call.dataset.status = "running";
  call.append(el("span", "state", "running"), el("div", "", `${event.name}(${JSON.stringify(event.arguments)})`));
  turnCard().querySelector(".calls").append(call);
}

function showResult(event) {
  let call = document.getElementById("call-" + event.call_id);
  if (!call) {
    showCall({ call_id: event.call_id, name: event.name, arguments: {} });
    call = document.getElementById("call-" + event.call_id);
  }
  call.className = "call " + event.status.replace(/ /g, "-");
  call.dataset.status = event.status;
  call.querySelector(".state").textContent = event.status;
  const outcome = event.ok ? event.value : event.error;
  if (outcome !== null && outcome !== undefined) {
    const text = typeof outcome === "string" ? outcome : JSON.stringify(outcome);
    call.append(el("div", "result", text));
  }
}

function showTimings(timings) {
  const parts = Object.entries(timings).map(([stage, ms]) => `${stage} ${Math.round(ms)} ms`);
  turnCard().append(el("div", "timings", parts.join(" · ")));
}

function ensurePlayer() {
  if (!player) player = new AudioContext();
  if (player.state === "suspended") player.resume();
  return player;
}

function play(meta, pcm) {
  const target = card || lastCard || turnCard();
  const samples = new Int16Array(pcm);
  target.chunks.push({ rate: meta.sample_rate, samples });
  const context = ensurePlayer();
  const buffer = context.createBuffer(1, samples.length, meta.sample_rate);
  const channel = buffer.getChannelData(0);
  for (let i = 0; i < samples.length; i++) channel[i] = samples[i] / 32768;
  const source = context.createBufferSource();
  source.buffer = buffer;
  source.connect(context.destination);
  playAt = Math.max(playAt, context.currentTime);
  source.start(playAt);
  playAt += buffer.duration;
  playing.push(source);
  source.onended = () => {
    playing = playing.filter((s) => s !== source);
    target.dataset.playedMs = String(Number(target.dataset.playedMs) + Math.round(buffer.duration * 1000));
  };
}

function stopPlayback() {
  for (const source of playing) source.stop();
  playing = [];
  playAt = 0;
}

function wav(chunks) {
  const rate = chunks[0].rate;
  const length = chunks.reduce((n, c) => n + c.samples.length, 0);
  const view = new DataView(new ArrayBuffer(44 + 2 * length));
  const text = (at, s) => [...s].forEach((ch, i) => view.setUint8(at + i, ch.charCodeAt(0)));
  text(0, "RIFF"); view.setUint32(4, 36 + 2 * length, true); text(8, "WAVEfmt ");
  view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
  view.setUint32(24, rate, true); view.setUint32(28, 2 * rate, true);
  view.setUint16(32, 2, true); view.setUint16(34, 16, true); text(36, "data");
  view.setUint32(40, 2 * length, true);
  let at = 44;
  for (const c of chunks) for (const s of c.samples) { view.setInt16(at, s, true); at += 2; }
  return new Blob([view], { type: "audio/wav" });
}

function endTurn(event) {
  const shown = turnCard();
  showTimings(event.timings_ms);
  if (shown.chunks.length) {
    const audio = el("audio");
    audio.controls = true;
    audio.src = URL.createObjectURL(wav(shown.chunks));
    shown.append(audio);
  }
  shown.dataset.done = "true";
  card = null;
}

function onEvent(event) {
  switch (event.type) {
    case "session":
      status(`live · session ${event.session_id.slice(0, 8)}`, "live");
      break;
    case "transcript":
      turnCard().querySelector(".heard").textContent = event.text;
      break;
    case "audio_warning":
      tag("audio: " + event.message);
      break;
    case "emotion":
      if (event.emotion) tag(`emotion: ${event.emotion.label} (${Math.round(100 * event.emotion.confidence)}%)`);
      break;
    case "audio_events":
      for (const sound of event.events.filter((e) => e.label !== "speech" && e.label !== "silence")) {
        tag(`sound: ${sound.label} (${Math.round(100 * sound.score)}%)`, `${sound.audioset}, ${sound.start}-${sound.end} s`);
      }
      break;
    case "policy":
      tag(`${event.policy} policy → ${event.decision}`, event.reason);
      break;
    case "tool_call":
      showCall(event);
      break;
    case "tool_result":
      showResult(event);
      break;
    case "reply_text":
      turnCard().append(el("p", "reply", event.text));
      break;
    case "audio_chunk":
      announced = event;
      break;
    case "playback_stopped":
      stopPlayback();
      break;
    case "metrics":
      endTurn(event);
      break;
    case "error":
      notice(event.message);
      break;
  }
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = token ? "?token=" + encodeURIComponent(token) : "";
  socket = new WebSocket(`${scheme}//${location.host}/v1/sessions${query}`);
  socket.binaryType = "arraybuffer";
  socket.onmessage = (message) => {
    if (typeof message.data === "string") onEvent(JSON.parse(message.data));
    else if (announced) { play(announced, message.data); announced = null; }
  };
  socket.onclose = (e) => status(`closed (${e.code}${e.reason ? ": " + e.reason : ""}); reload to reconnect`, "closed");
}

function send(samples) {
  if (!socket || socket.readyState !== WebSocket.OPEN) return;
  const pcm = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) pcm[i] = Math.max(-1, Math.min(1, samples[i])) * 32767;
  socket.send(pcm.buffer);
}

function sendSilence(seconds) {
  const silence = new Float32Array(FRAME);
  for (let n = 0; n < (seconds * RATE) / FRAME; n++) send(silence);
}

async function microphone() {
  if (capture) return;
  const media = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: true, noiseSuppression: false, autoGainControl: false },
  });
  const context = new AudioContext({ sampleRate: RATE });
  await context.audioWorklet.addModule("static/capture.js");
  const node = new AudioWorkletNode(context, "capture");
  const mute = context.createGain();
  mute.gain.value = 0;
  context.createMediaStreamSource(media).connect(node).connect(mute).connect(context.destination);
  node.port.onmessage = (e) => { if (handsFree || talking) send(e.data); };
  capture = context;
}

async function withMicrophone(action) {
  ensurePlayer();
  try {
    await microphone();
    action();
  } catch (e) {
    notice(`the microphone is not available (${e.message}); send a file or type instead`);
  }
}

async function sendFile(file) {
  ensurePlayer();
  const decoded = await new AudioContext().decodeAudioData(await file.arrayBuffer());
  const offline = new OfflineAudioContext(1, Math.ceil(decoded.duration * RATE), RATE);
  const source = offline.createBufferSource();
  source.buffer = decoded;
  source.connect(offline.destination);
  source.start();
  const samples = (await offline.startRendering()).getChannelData(0);
  for (let i = 0; i < samples.length; i += FRAME) send(samples.subarray(i, i + FRAME));
  sendSilence(1.0); // the server's VAD ends the utterance after 600 ms of silence
}

$("handsfree").onclick = () => withMicrophone(() => {
  handsFree = !handsFree;
  if (!handsFree) sendSilence(0.8); // ends an utterance cut off mid-way
  $("handsfree").textContent = `Hands-free: ${handsFree ? "on" : "off"}`;
  $("handsfree").classList.toggle("on", handsFree);
  $("handsfree").setAttribute("aria-pressed", String(handsFree));
});
$("talk").onpointerdown = () => withMicrophone(() => { talking = true; $("talk").classList.add("on"); });
for (const name of ["pointerup", "pointerleave"]) {
  $("talk").addEventListener(name, () => {
    if (!talking) return;
    talking = false;
    $("talk").classList.remove("on");
    sendSilence(0.8);
  });
}
$("file").onchange = (e) => {
  const file = e.target.files[0];
  if (file) sendFile(file).catch((err) => notice(`could not read ${file.name}: ${err.message}`));
  e.target.value = "";
};
$("typed").onsubmit = (e) => {
  e.preventDefault();
  const text = $("text").value.trim();
  if (!text || !socket || socket.readyState !== WebSocket.OPEN) return;
  ensurePlayer();
  socket.send(JSON.stringify({ type: "text", text }));
  $("text").value = "";
};

connect();
