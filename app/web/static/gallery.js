// The PixyProxy gallery: built on the public HTTP API only. Text from the API is only ever
// set as textContent or as attribute values, never parsed as HTML.
"use strict";

const PAGE_SIZE = 24;
const KEY_STORAGE = "pixyproxy.apiKey";
const $ = (id) => document.getElementById(id);

let nextUrl = null;

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
    return { title: body.title || response.statusText, detail: body.detail || "" };
  } catch {
    return { title: `${response.status} ${response.statusText}`, detail: "" };
  }
}

function contentUrl(image) {
  return `/image/${encodeURIComponent(image.guid)}/content`;
}

function tile(image) {
  const item = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "tile";
  button.dataset.guid = image.guid;
  const picture = document.createElement("img");
  picture.loading = "lazy";
  picture.decoding = "async";
  picture.src = contentUrl(image);
  picture.alt = image.prompt;
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
  const query = new URLSearchParams(location.search).get("q");
  const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (query) params.set("prompt", query);
  return `/image/?${params}`;
}

function openViewer(image) {
  $("viewer-image").src = contentUrl(image);
  $("viewer-image").alt = image.prompt;
  $("viewer-prompt").textContent = image.prompt;
  $("viewer-guid").textContent = image.guid;
  $("viewer-filename").textContent = image.filename;
  $("viewer-created").textContent = new Date(image.created_at).toLocaleString();
  $("viewer-download").href = contentUrl(image);
  $("viewer-download").setAttribute("download", image.filename.split("/").pop());
  $("viewer-copy").onclick = async () => {
    await navigator.clipboard.writeText(image.prompt);
    $("viewer-copy").textContent = "Copied";
  };
  $("viewer-copy").textContent = "Copy prompt";
  $("viewer").showModal();
}

function showError(problem) {
  $("error-title").textContent = problem.title;
  $("error-detail").textContent = problem.detail;
  $("error").hidden = false;
}

async function generate(event) {
  event.preventDefault();
  const prompt = $("prompt").value;
  const key = $("api-key").value.trim();
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (key) headers.Authorization = `Bearer ${key}`;
  $("error").hidden = true;
  $("generate-button").disabled = true;
  $("generate").setAttribute("aria-busy", "true");
  $("progress").textContent = "Generating… this can take a minute.";
  $("progress").hidden = false;
  try {
    const response = await fetch("/image/", { method: "POST", headers, body: JSON.stringify({ prompt }) });
    if (!response.ok) {
      const problem = await problemOf(response);
      showError(problem);
      if (response.status === 401) $("key-box").open = true;
      return;
    }
    const image = await response.json();
    $("grid").prepend(tile(image));
    $("empty").hidden = true;
    $("prompt").value = "";
  } catch (error) {
    showError({ title: "The service could not be reached", detail: String(error) });
  } finally {
    $("generate-button").disabled = false;
    $("generate").removeAttribute("aria-busy");
    $("progress").hidden = true;
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
  window.addEventListener("popstate", () => {
    $("search-text").value = new URLSearchParams(location.search).get("q") || "";
    loadPage(listUrl(), { replace: true });
  });
  loadPage(listUrl(), { replace: true });
});
