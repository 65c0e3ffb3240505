// Following a generation job until it ends: its Server-Sent Events read with fetch(), because
// EventSource cannot send the Authorization header. A stream that breaks is resumed with
// Last-Event-ID, so nothing is repeated or lost; when streaming keeps failing (a proxy that
// buffers or cuts long answers), GET /jobs/{id} is polled instead. It uses problemOf and loadable
// from gallery.js.
"use strict";

const FINAL_STATUSES = ["succeeded", "failed", "canceled"];
const STREAM_BREAKS = 4; // breaks in a row with no new event before falling back to polling
const POLL_MS = 2000;
const MAX_RETRY_MS = 30000; // a server's `retry:` above this is not waited for in full

// A problem answer (RFC 9457) about the job itself: following it further cannot help.
class JobProblem extends Error {
  constructor(problem) {
    super(problem.title);
    this.problem = problem;
  }
}

function isFinal(job) {
  return FINAL_STATUSES.includes(job.status);
}

// Waits, unless the follower is stopped first.
function pause(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

// One event-stream line into the event being built (the SSE parsing rules, trimmed to the
// fields the service sends). Returns true at the blank line that ends an event.
function readLine(line, pending, cursor) {
  if (line === "") return true;
  if (line.startsWith(":")) return false; // a keep-alive comment
  const colon = line.indexOf(":");
  const name = colon < 0 ? line : line.slice(0, colon);
  let value = colon < 0 ? "" : line.slice(colon + 1);
  if (value.startsWith(" ")) value = value.slice(1);
  if (name === "data") pending.data.push(value);
  else if (name === "event") pending.kind = value;
  else if (name === "id" && !value.includes("\0")) cursor.lastEventId = value;
  else if (name === "retry" && /^\d+$/.test(value)) cursor.retryMs = Number(value);
  return false;
}

// Reads a stream to its end, handing each event to onEvent in order (awaited, so a partial
// render is on screen before the next event is looked at).
async function readEvents(body, cursor, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let pending = { kind: "message", data: [] };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    const lines = buffer.split("\n");
    buffer = lines.pop();
    for (const raw of lines) {
      const ended = readLine(raw.endsWith("\r") ? raw.slice(0, -1) : raw, pending, cursor);
      if (!ended) continue;
      if (pending.data.length) await onEvent(pending.kind, JSON.parse(pending.data.join("\n")));
      pending = { kind: "message", data: [] };
    }
  }
}

function jobHeaders(key, accept) {
  const headers = { Accept: accept };
  if (key) headers.Authorization = `Bearer ${key}`;
  return headers;
}

// 401, 403, 404 and 422 say the job cannot be followed with this key; anything else (a 502 from
// a proxy, a 503 while a replica drains) is a break to retry.
async function refusal(response) {
  if (![401, 403, 404, 422].includes(response.status)) return null;
  return new JobProblem(await problemOf(response));
}

// One connection to the job's events; returns when the stream ends or breaks.
async function streamOnce(jobUrl, cursor, follower) {
  const headers = jobHeaders(follower.key, "text/event-stream");
  if (cursor.lastEventId) headers["Last-Event-ID"] = cursor.lastEventId;
  const response = await fetch(`${jobUrl}/events`, {
    headers,
    cache: "no-store",
    signal: follower.signal,
  });
  if (!response.ok) {
    const refused = await refusal(response);
    if (refused) throw refused;
    return;
  }
  await readEvents(response.body, cursor, async (kind, data) => {
    if (kind === "status") {
      cursor.job = data;
      follower.onStatus(data);
    } else if (kind === "partial_image") {
      await follower.onPartial(data.index, loadable(new URL(data.url, location.href)));
    }
  });
}

async function pollUntilFinal(jobUrl, cursor, follower) {
  while (!isFinal(cursor.job)) {
    await pause(POLL_MS, follower.signal);
    try {
      const response = await fetch(jobUrl, {
        headers: jobHeaders(follower.key, "application/json"),
        cache: "no-store",
        signal: follower.signal,
      });
      if (response.ok) {
        cursor.job = await response.json();
        follower.onStatus(cursor.job);
        continue;
      }
      const refused = await refusal(response);
      if (refused) throw refused;
    } catch (error) {
      if (follower.signal.aborted || error instanceof JobProblem) throw error;
      // the network is down for now: ask again at the next tick
    }
  }
  return cursor.job;
}

// Follows `job` (as POST answered it, at `jobUrl`) to its final state and returns that Job.
// follower: { key, signal, onStatus(job), onPartial(index, url) }. Throws a JobProblem when the
// service refuses to say more about the job, and the signal's reason once stopped.
async function followJob(job, jobUrl, follower) {
  const cursor = { job, lastEventId: null, retryMs: 3000 };
  follower.onStatus(job);
  let breaks = 0;
  while (!isFinal(cursor.job)) {
    const seen = cursor.lastEventId;
    try {
      await streamOnce(jobUrl, cursor, follower);
    } catch (error) {
      if (follower.signal.aborted || error instanceof JobProblem) throw error;
    }
    if (isFinal(cursor.job)) break;
    breaks = cursor.lastEventId === seen ? breaks + 1 : 1;
    if (breaks >= STREAM_BREAKS) return pollUntilFinal(jobUrl, cursor, follower);
    follower.onStatus(cursor.job, { reconnecting: true });
    await pause(Math.min(cursor.retryMs, MAX_RETRY_MS), follower.signal);
  }
  return cursor.job;
}
