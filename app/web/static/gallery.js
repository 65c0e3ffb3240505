// The PixyProxy gallery: built on the public HTTP API only. Text from the API is only ever
// set as textContent or as attribute values, never parsed as HTML.
"use strict";

const PAGE_SIZE = 24;
const KEY_STORAGE = "pixyproxy.apiKey";
const $ = (id) => document.getElementById(id);

let nextUrl = null;
let choices = null; // what GET /models says a generation may ask for
let viewing = null; // the guid the viewer shows, so a late answer for another one is dropped

// The option fields of the form: the body field each one fills and its control.
const OPTION_FIELDS = [
  ["model", "model"],
  ["size", "size"],
  ["quality", "quality"],
  ["output_format", "output-format"],
  ["output_compression", "output-compression"],
  ["background", "background"],
];
const LOSSY_FORMATS = ["jpeg", "webp"];

function nextLink(response) {
  const header = response.headers.get("Link") || "";
  for (const part of header.split(",")) {
    const match = part.match(/<([^>]+)>\s*;\s*rel="next"/);
    if (match) return loadable(new URL(match[1], response.url));
  }
  return null;
}

// The page's CSP (connect-src 'self') lets it fetch from its own origin only. Links are relative,
// but a server behind a TLS proxy may still write an absolute http:// one: the same path and
// query on this origin is the page it means, where a cross-origin fetch would fail unseen.
function loadable(url) {
  return url.origin === location.origin ? url.href : `${url.pathname}${url.search}`;
}

async function problemOf(response) {
  try {
    const body = await response.json();
    return { ...problemFrom(body), title: body.title || response.statusText };
  } catch {
    return { title: `${response.status} ${response.statusText}`, detail: "", errors: [] };
  }
}

// A problem object (RFC 9457) as the page shows it: a failed job's `error` is one too.
function problemFrom(body) {
  const errors = Array.isArray(body.errors) ? body.errors : [];
  return { title: body.title || "Something went wrong", detail: body.detail || "", errors };
}

function contentUrl(image) {
  return `/image/${encodeURIComponent(image.guid)}/content`;
}

// Tiles load width variants (WebP where the browser takes it), never originals: a 256-pixel
// WebP is a few KiB where the original is MBs. The widths are on the default ladder
// (PIXY_VARIANT_WIDTHS); should the server refuse them, a tile falls back to the original.
const TILE_WIDTHS = [128, 256, 384, 512, 768];
const TILE_SIZES = "(max-width: 600px) 50vw, 240px";

function variantSet(image, format) {
  const query = format ? `&format=${format}` : "";
  return TILE_WIDTHS.map((w) => `${contentUrl(image)}?width=${w}${query} ${w}w`).join(", ");
}

function tilePicture(image) {
  const picture = document.createElement("picture");
  const webp = document.createElement("source");
  webp.type = "image/webp";
  webp.srcset = variantSet(image, "webp");
  webp.sizes = TILE_SIZES;
  const img = document.createElement("img");
  img.loading = "lazy";
  img.decoding = "async";
  img.srcset = variantSet(image, "");
  img.sizes = TILE_SIZES;
  img.src = `${contentUrl(image)}?width=256`;
  img.alt = image.prompt;
  img.addEventListener("error", () => {
    if (!img.srcset) return;
    webp.remove();
    img.removeAttribute("srcset");
    img.src = contentUrl(image);
  }, { once: true });
  picture.append(webp, img);
  return picture;
}

function tile(image) {
  const item = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "tile";
  button.dataset.guid = image.guid;
  const picture = tilePicture(image);
  const caption = document.createElement("span");
  caption.className = "caption";
  caption.textContent = image.prompt;
  const time = document.createElement("time");
  time.dateTime = image.created_at;
  time.textContent = new Date(image.created_at).toLocaleString();
  button.append(picture, caption, time);
  button.addEventListener("click", () => openViewer(image));
  item.append(button);
  return item;
}

function showImages(images, { replace }) {
  const grid = $("grid");
  if (replace) grid.replaceChildren();
  grid.append(...images.map(tile));
  $("empty").hidden = grid.children.length > 0;
}

async function loadPage(url, { replace }) {
  let response;
  try {
    response = await fetch(url, { headers: { Accept: "application/json" } });
  } catch (error) {
    showError({ title: "The service could not be reached", detail: String(error) });
    return;
  }
  if (!response.ok) {
    showError(await problemOf(response));
    return;
  }
  showImages(await response.json(), { replace });
  nextUrl = nextLink(response);
  $("more").hidden = nextUrl === null;
}

function listUrl() {
  const query = (new URLSearchParams(location.search).get("q") || "").trim();
  const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (query) params.set("prompt", query);
  return `/image/?${params}`;
}

// The option lists, rebuilt from GET /models. A field's first entry (value "") is its default:
// left there, the field is not sent and the service decides.
function fillSelect(select, values, defaultLabel) {
  const kept = select.value;
  const entries = [["", defaultLabel], ...values.map((value) => [value, value])];
  select.replaceChildren(
    ...entries.map(([value, label]) => {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = label;
      return option;
    }),
  );
  select.value = values.includes(kept) ? kept : "";
}

function chosenModel() {
  const name = $("model").value;
  return choices.models.find((model) => (name ? model.name === name : model.default));
}

function showSizes() {
  fillSelect($("size"), chosenModel().sizes, "default");
}

function showCompression() {
  $("compression-field").hidden = !LOSSY_FORMATS.includes($("output-format").value);
}

function showChoices(found) {
  choices = found;
  const fallback = choices.models.find((model) => model.default);
  const others = choices.models.filter((model) => !model.default).map((model) => model.name);
  fillSelect($("model"), others, `${fallback.name} (default)`);
  $("model-field").hidden = choices.models.length < 2;
  showSizes();
  // The first quality, format and background is what the service uses when none is sent.
  for (const [id, values] of [
    ["quality", choices.qualities],
    ["output-format", choices.formats],
    ["background", choices.backgrounds],
  ]) {
    fillSelect($(id), values.slice(1), `${values[0]} (default)`);
  }
  showCompression();
  $("options").hidden = false;
}

// Without the choices (an older service, a network hiccup) the form still sends a prompt.
async function loadChoices() {
  try {
    const response = await fetch("/models", { headers: { Accept: "application/json" } });
    if (response.ok) showChoices(await response.json());
  } catch {
    // the options stay hidden
  }
}

// Only what the user moved off its default goes in the body; compression only for lossy formats.
function generationBody(prompt) {
  const body = { prompt };
  if ($("options").hidden) return body;
  for (const [field, id] of OPTION_FIELDS) {
    const value = $(id).value.trim();
    if (!value || (field === "output_compression" && $("compression-field").hidden)) continue;
    body[field] = field === "output_compression" ? Number(value) : value;
  }
  return body;
}

function formatBytes(count) {
  if (count === null || count === undefined) return "unknown";
  const units = ["bytes", "KiB", "MiB", "GiB"];
  let size = count;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit += 1;
  }
  const short = unit === 0 ? `${count} bytes` : `${size.toFixed(1)} ${units[unit]}`;
  return unit === 0 ? short : `${short} (${count.toLocaleString()} bytes)`;
}

function formatSize(image) {
  return image.width && image.height ? `${image.width} × ${image.height}` : "unknown";
}

const USD = new Intl.NumberFormat("en-US", {
  style: "currency",
  currency: "USD",
  minimumFractionDigits: 2,
  maximumFractionDigits: 4,
});

function formatCost(usage) {
  const tokens = [
    `${usage.text_input_tokens.toLocaleString()} text in`,
    `${usage.image_input_tokens.toLocaleString()} image in`,
    `${usage.output_tokens.toLocaleString()} out`,
  ];
  return `${USD.format(usage.cost_usd)} (tokens: ${tokens.join(", ")})`;
}

// The cost is the job's, which only the key that made it may see: any other answer (404 for
// someone else's image, 401 for a key the service does not know) leaves the line out.
// The viewer's data-cost says where the look-up stands: pending, shown or none.
async function showCost(guid) {
  $("viewer-cost-row").hidden = true;
  $("viewer").dataset.cost = "pending";
  const usage = await usageOf(guid, $("api-key").value.trim());
  if (viewing !== guid) return;
  if (usage) $("viewer-cost").textContent = formatCost(usage);
  $("viewer-cost-row").hidden = !usage;
  $("viewer").dataset.cost = usage ? "shown" : "none";
}

async function usageOf(guid, key) {
  if (!key) return null;
  try {
    const response = await fetch(`/jobs/${encodeURIComponent(guid)}`, {
      headers: { Accept: "application/json", Authorization: `Bearer ${key}` },
    });
    return response.ok ? (await response.json()).usage || null : null;
  } catch {
    return null;
  }
}

function openViewer(image) {
  $("viewer-image").src = contentUrl(image);
  $("viewer-image").alt = image.prompt;
  $("viewer-prompt").textContent = image.prompt;
  $("viewer-guid").textContent = image.guid;
  $("viewer-filename").textContent = image.filename;
  $("viewer-created").textContent = new Date(image.created_at).toLocaleString();
  $("viewer-model").textContent = image.model || "unknown";
  $("viewer-size").textContent = formatSize(image);
  $("viewer-format").textContent = image.media_type;
  $("viewer-bytes").textContent = formatBytes(image.bytes);
  $("viewer-quality").textContent = image.quality || "default";
  viewing = image.guid;
  showCost(image.guid);
  $("viewer-download").href = contentUrl(image);
  $("viewer-download").setAttribute("download", image.filename.split("/").pop());
  $("viewer-copy").onclick = async () => {
    await navigator.clipboard.writeText(image.prompt);
    $("viewer-copy").textContent = "Copied";
  };
  $("viewer-copy").textContent = "Copy prompt";
  $("viewer").showModal();
}

// A problem's `errors` say what was wrong and where: each becomes a line, and the field it names
// is marked invalid.
function errorMessage(error) {
  return String(error.msg || "");
}

function errorLine(error) {
  const field = Array.isArray(error.loc) && error.loc[0] === "body" ? error.loc[1] : undefined;
  const fields = [["prompt", "prompt"], ...OPTION_FIELDS];
  const control = fields.find(([name]) => name === field);
  if (control) $(control[1]).setAttribute("aria-invalid", "true");
  const item = document.createElement("li");
  item.textContent = field ? `${field}: ${errorMessage(error)}` : errorMessage(error);
  return item;
}

function clearError() {
  $("error").hidden = true;
  for (const control of document.querySelectorAll("#generate [aria-invalid]")) {
    control.removeAttribute("aria-invalid");
  }
}

function showError(problem) {
  $("error-title").textContent = problem.title;
  const errors = problem.errors || [];
  // The detail often repeats the only error; said twice, it would read as two problems.
  const repeated = errors.some((error) => errorMessage(error) === problem.detail);
  $("error-detail").textContent = repeated ? "" : problem.detail;
  $("error-list").replaceChildren(...errors.map(errorLine));
  $("error-list").hidden = errors.length === 0;
  $("error").hidden = false;
}

// The generation the page follows (its AbortController): one at a time. Starting another or
// leaving the page stops following it; the job itself runs on, and its image joins the gallery.
let following = null;
let previewUrl = null; // the object URL of the partial render on screen

const STATUS_TEXT = {
  queued: "Queued: waiting for a free slot…",
  running: "Generating… this can take a minute.",
};

function showPreview(index, blob) {
  const url = URL.createObjectURL(blob);
  const image = $("preview-image");
  image.src = url;
  image.dataset.partial = String(index);
  $("preview-caption").textContent = `Partial render ${index + 1}`;
  $("preview").hidden = false;
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = url;
}

function clearPreview() {
  $("preview").hidden = true;
  $("preview-image").removeAttribute("src");
  delete $("preview-image").dataset.partial;
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = null;
}

function showStatus(job, { reconnecting = false } = {}) {
  const text = STATUS_TEXT[job.status];
  if (!text) return;
  $("progress").textContent = reconnecting ? `${text} (reconnecting)` : text;
  $("progress").dataset.status = job.status;
  $("progress").hidden = false;
}

// A partial render is fetched with the key (it is the job owner's) and shown from memory.
// One that fails to load is skipped: the next one, or the final image, follows.
async function loadPartial(index, url, key, controller) {
  try {
    const response = await fetch(url, {
      headers: key ? { Authorization: `Bearer ${key}` } : {},
      signal: controller.signal,
    });
    if (!response.ok) return;
    const blob = await response.blob();
    if (following === controller) showPreview(index, blob);
  } catch (error) {
    if (controller.signal.aborted) throw error;
  }
}

function stopFollowing() {
  if (following) following.abort();
  following = null;
  clearPreview();
  $("progress").hidden = true;
  $("generate-button").disabled = false;
  $("generate").removeAttribute("aria-busy");
}

function jobUrlOf(response, job) {
  const location = response.headers.get("Location");
  if (location) return loadable(new URL(location, response.url));
  return `/jobs/${encodeURIComponent(job.id)}`;
}

// POST with Prefer: respond-async: a 202 and the job, followed here to its end. A 200 (the image
// made at once) is taken as it is.
async function submit(prompt, key, controller) {
  const headers = {
    "Content-Type": "application/json",
    Accept: "application/json",
    Prefer: "respond-async",
  };
  if (key) headers.Authorization = `Bearer ${key}`;
  const body = JSON.stringify(generationBody(prompt));
  const response = await fetch("/image/", {
    method: "POST",
    headers,
    body,
    signal: controller.signal,
  });
  if (!response.ok) {
    showError(await problemOf(response));
    if (response.status === 401) $("key-box").open = true;
    return null;
  }
  const answer = await response.json();
  if (response.status !== 202) return { status: "succeeded", image: answer };
  // Accepted: the form is free again (another Generate stops following this one).
  $("prompt").value = "";
  $("generate-button").disabled = false;
  return followJob(answer, jobUrlOf(response, answer), {
    key,
    signal: controller.signal,
    onStatus: showStatus,
    onPartial: (index, url) => loadPartial(index, url, key, controller),
  });
}

function showOutcome(job, prompt) {
  if (job.status === "succeeded" && !job.image) {
    // Deleted (by another tab, a key's owner, retention) before it could be shown.
    showError({ title: "The image was made, then deleted", detail: "" });
    return;
  }
  if (job.status === "succeeded") {
    $("grid").prepend(tile(job.image));
    $("empty").hidden = true;
    $("prompt").value = "";
    return;
  }
  showError(job.error ? problemFrom(job.error) : { title: `The job ended ${job.status}`, detail: "" });
  if (!$("prompt").value) $("prompt").value = prompt; // to edit and try again
}

async function generate(event) {
  event.preventDefault();
  const prompt = $("prompt").value;
  const key = $("api-key").value.trim();
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
  stopFollowing();
  const controller = new AbortController();
  following = controller;
  clearError();
  $("generate-button").disabled = true;
  $("generate").setAttribute("aria-busy", "true");
  $("progress").textContent = "Sending…";
  $("progress").hidden = false;
  try {
    const job = await submit(prompt, key, controller);
    if (job && following === controller) showOutcome(job, prompt);
  } catch (error) {
    if (controller.signal.aborted) return; // stopped on purpose: nothing to report
    if (error instanceof JobProblem) showError(error.problem);
    else showError({ title: "The service could not be reached", detail: String(error) });
    if (!$("prompt").value) $("prompt").value = prompt;
  } finally {
    if (following === controller) {
      following = null;
      $("generate-button").disabled = false;
      $("generate").removeAttribute("aria-busy");
      $("progress").hidden = true;
      clearPreview();
    }
  }
}

function search(event) {
  event.preventDefault();
  const query = $("search-text").value.trim();
  const url = new URL(location.href);
  if (query) url.searchParams.set("q", query);
  else url.searchParams.delete("q");
  history.pushState(null, "", url);
  loadPage(listUrl(), { replace: true });
}

document.addEventListener("DOMContentLoaded", () => {
  $("search-text").value = new URLSearchParams(location.search).get("q") || "";
  $("api-key").value = sessionStorage.getItem(KEY_STORAGE) || "";
  $("search").addEventListener("submit", search);
  $("generate").addEventListener("submit", generate);
  $("more").addEventListener("click", () => nextUrl && loadPage(nextUrl, { replace: false }));
  $("viewer-close").addEventListener("click", () => $("viewer").close());
  $("viewer").addEventListener("close", () => {
    viewing = null;
  });
  $("model").addEventListener("change", showSizes);
  $("output-format").addEventListener("change", showCompression);
  window.addEventListener("pagehide", stopFollowing);
  window.addEventListener("popstate", () => {
    $("search-text").value = new URLSearchParams(location.search).get("q") || "";
    loadPage(listUrl(), { replace: true });
  });
  loadChoices();
  loadPage(listUrl(), { replace: true });
});
