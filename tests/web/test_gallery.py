"""The gallery in a real browser: Debian's Chromium driven by Playwright, against a live server."""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from tests.fakes.openai_server import FakeOpenAI
from tests.fixtures import PROJECT_ROOT, LiveServer, start_live_server
from tests.web.conftest import OpenAISetup, serve_fake_openai

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = PROJECT_ROOT / "artifacts" / "gallery"
XSS = "<img src=x onerror=alert(1)>"
KEY = "gallery-test-key"
OWNER_KEY = "options-owner-key"
OTHER_KEY = "options-other-key"
TINY_SIZES = ["auto", "256x256", "384x256"]
TINY_PRICE = {"text_input": 2.0, "image_input": 2.5, "output": 8.0}  # dollars per million tokens


def _browser_or_skip() -> Any:
    reason = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the dev dependencies include it
        reason = "the playwright package is not installed"
    if CHROMIUM is None:
        reason = "no chromium on this machine (apt-get install chromium)"
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser tests: {reason}")
        pytest.skip(reason)
    return sync_playwright


@pytest.fixture(scope="module")
def gallery_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server with 30 images (more than one page), one of them with HTML in its prompt."""
    server = start_live_server(tmp_path_factory.mktemp("gallery"), PIXY_API_KEYS=KEY)
    with server.client(headers={"Authorization": f"Bearer {KEY}"}) as client:
        for n in range(28):
            client.post("/image/", json={"prompt": f"seeded duck {n}"})
        client.post("/image/", json={"prompt": "a lonely goose"})
        client.post("/image/", json={"prompt": XSS})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def options_setup(request: pytest.FixtureRequest) -> Iterator[OpenAISetup]:
    """Two models (the second with small sizes of its own) behind the fake provider, two keys."""
    with serve_fake_openai(
        request,
        "gallery-options",
        PIXY_API_KEYS=f"{OWNER_KEY},{OTHER_KEY}",
        PIXY_OPENAI_MODELS="gpt-image-2,tiny-model",
        PIXY_OPENAI_MODEL_SIZES=json.dumps({"tiny-model": TINY_SIZES}),
        PIXY_OPENAI_PRICES=json.dumps({"tiny-model": TINY_PRICE}),
    ) as setup:
        yield setup


@pytest.fixture
def options_server(options_setup: OpenAISetup, fresh_fake: FakeOpenAI) -> LiveServer:
    fresh_fake.honour_size = True  # the stored image is as big as the one asked for
    return options_setup.server


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_playwright = _browser_or_skip()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    opened = context.new_page()
    opened.alerts = []
    opened.on("dialog", lambda dialog: (opened.alerts.append(dialog.message), dialog.dismiss()))
    yield opened
    context.close()


@pytest.mark.parametrize(
    "path",
    [
        *("/", "/gallery", "/static/index.html"),
        *("/static/gallery.js", "/static/jobs.js", "/static/gallery.css"),
    ],
)
def test_every_gallery_file_carries_the_policy(gallery_server: LiveServer, path: str) -> None:
    """The page under /static is the working gallery too: no way around the policy to frame it."""
    with gallery_server.client() as client:
        response = client.get(path)
        revalidated = client.get(path, headers={"If-None-Match": response.headers["etag"]})
    assert response.status_code == 200
    assert revalidated.status_code in (200, 304)
    for answer in (response, revalidated):
        policy = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy
        assert "script-src 'self'" in policy
        assert answer.headers["x-content-type-options"] == "nosniff"


def test_grid_shows_the_newest_images_and_load_more_appends(
    gallery_server: LiveServer, page: Any
) -> None:
    page.goto(f"{gallery_server.base_url}/gallery")
    tiles = page.locator("#grid li")
    tiles.nth(23).wait_for()
    assert tiles.count() == 24
    assert tiles.first.locator(".caption").text_content() == XSS
    first_image = tiles.nth(1).locator("img")
    assert first_image.get_attribute("alt") == "a lonely goose"
    assert first_image.get_attribute("loading") == "lazy"
    page.click("#more")
    tiles.nth(29).wait_for()
    assert tiles.count() == 30
    assert page.locator("#more").is_hidden()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.locator("#options").wait_for()  # the page as it settles, its options loaded
    page.screenshot(path=str(ARTIFACTS / "desktop.png"), full_page=False)


def test_load_more_follows_a_link_written_for_another_origin(
    gallery_server: LiveServer, page: Any
) -> None:
    """An absolute http:// Link (a server behind a TLS proxy) is followed on the page's origin.

    The page is opened as localhost while the Link names 127.0.0.1: another origin, which the
    page's own CSP (connect-src 'self') forbids it to fetch.
    """
    port = gallery_server.base_url.rsplit(":", 1)[1]

    def absolute_links(route: Any) -> None:
        response = route.fetch()
        headers = dict(response.headers)
        headers["link"] = headers["link"].replace("</", f"<http://127.0.0.1:{port}/")
        route.fulfill(response=response, headers=headers)

    page.route("**/image/?*", absolute_links)
    page.goto(f"http://localhost:{port}/gallery")
    tiles = page.locator("#grid li")
    tiles.nth(23).wait_for()
    page.click("#more")
    tiles.nth(29).wait_for()
    assert tiles.count() == 30
    assert page.locator("#error").is_hidden()


def test_search_narrows_the_grid_and_the_url_reflects_it(
    gallery_server: LiveServer, page: Any
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{gallery_server.base_url}/")
    page.locator("#grid li").first.wait_for()
    page.fill("#search-text", "goose")
    page.press("#search-text", "Enter")
    # Waiting through locators: a wait_for_function string would be eval, which the CSP forbids.
    expect(page.locator("#grid li")).to_have_count(1)
    assert page.locator("#grid li .caption").text_content() == "a lonely goose"
    assert page.url.endswith("?q=goose")
    page.goto(page.url)  # the shared link shows the same search
    expect(page.locator("#grid li")).to_have_count(1)
    assert page.input_value("#search-text") == "goose"


def test_a_prompt_with_html_is_shown_as_text(gallery_server: LiveServer, page: Any) -> None:
    response = page.goto(f"{gallery_server.base_url}/gallery")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    caption = page.locator("#grid li .caption", has_text="onerror")
    caption.wait_for()
    assert caption.text_content() == XSS
    assert page.locator("#grid img[src='x']").count() == 0
    caption.click()
    page.locator("#viewer[open]").wait_for()
    assert page.locator("#viewer-prompt").text_content() == XSS
    page.wait_for_timeout(300)
    assert page.alerts == []


def test_the_viewer_shows_details_with_keyboard_only(gallery_server: LiveServer, page: Any) -> None:
    page.goto(f"{gallery_server.base_url}/gallery")
    tile = page.locator(".tile", has_text="a lonely goose")
    tile.wait_for()
    tile.focus()
    page.keyboard.press("Enter")
    page.locator("#viewer[open]").wait_for()
    assert page.locator("#viewer-prompt").text_content() == "a lonely goose"
    guid = page.locator("#viewer-guid").text_content()
    assert page.locator("#viewer-filename").text_content() == f"{guid}.png"
    assert page.locator("#viewer-download").get_attribute("href") == f"/image/{guid}/content"
    page.keyboard.press("Escape")
    page.locator("#viewer:not([open])").wait_for(state="attached")


def test_the_first_screen_loads_webp_variants_a_fifth_of_the_originals(
    gallery_server: LiveServer, page: Any
) -> None:
    page.goto(f"{gallery_server.base_url}/gallery")
    page.locator("#grid li").nth(23).wait_for()
    page.wait_for_load_state("networkidle")
    shown = page.evaluate(
        """() => [...document.querySelectorAll('#grid img')]
            .filter((img) => img.complete && img.naturalWidth > 0 && img.currentSrc)
            .map((img) => img.currentSrc)"""
    )
    assert len(shown) >= 6  # a first screen's worth, the rest still lazy
    assert all("?width=" in url and "format=webp" in url for url in shown), shown
    with gallery_server.client() as client:
        variants = sum(len(client.get(url).content) for url in shown)
        originals = sum(len(client.get(url.split("?")[0]).content) for url in shown)
    assert variants * 5 <= originals, (variants, originals)
    # Clicking a tile still opens the original.
    page.locator(".tile", has_text="a lonely goose").click()
    page.locator("#viewer[open]").wait_for()
    guid = page.locator("#viewer-guid").text_content()
    assert page.locator("#viewer-image").get_attribute("src") == f"/image/{guid}/content"


def test_generating_shows_progress_then_the_new_image(
    gallery_server: LiveServer, page: Any
) -> None:
    page.goto(f"{gallery_server.base_url}/gallery")
    page.locator("#grid li").first.wait_for()
    page.fill("#prompt", "made in the browser")
    page.click("#key-box summary")
    page.fill("#api-key", KEY)
    page.click("#generate-button")
    page.locator("#grid li .caption", has_text="made in the browser").wait_for()
    assert (
        page.locator("#grid li").first.locator(".caption").text_content() == "made in the browser"
    )
    assert page.locator("#error").is_hidden()
    assert page.evaluate("sessionStorage.getItem('pixyproxy.apiKey')") == KEY
    assert page.evaluate("localStorage.length") == 0


def _option_labels(page: Any, select: str) -> list[str]:
    labels: list[str] = page.locator(f"#{select} option").all_text_contents()
    return labels


def _use_key(page: Any, key: str) -> None:
    if page.locator("#key-box").get_attribute("open") is None:
        page.click("#key-box summary")
    page.fill("#api-key", key)


def _submit(page: Any, prompt: str) -> tuple[dict[str, Any], Any]:
    """Generate ``prompt`` from the form: the body the page sent, and the service's answer."""
    page.fill("#prompt", prompt)
    with page.expect_response(lambda r: r.request.method == "POST") as answered:
        page.click("#generate-button")
    response = answered.value
    body: dict[str, Any] = response.request.post_data_json
    return body, response


def _made_image(server: LiveServer, answer: Any, key: str) -> dict[str, Any]:
    """The image of the finished job that the page's POST started."""
    with server.client(headers={"Authorization": f"Bearer {key}"}) as client:
        job: dict[str, Any] = client.get(answer.headers["location"]).json()
    assert job["status"] == "succeeded"
    image: dict[str, Any] = job["image"]
    return image


def test_generating_with_options_makes_that_format_and_size(
    gallery_server: LiveServer, page: Any
) -> None:
    """The offline generator draws what the form asked for; a single model needs no field."""
    page.goto(f"{gallery_server.base_url}/gallery")
    page.locator("#options").wait_for()
    assert page.locator("#model-field").is_hidden()
    assert _option_labels(page, "size") == [
        *("default", "auto", "1024x1024", "1536x1024", "1024x1536"),
    ]
    # What the offline generator honours: one quality, and opaque pictures only.
    assert _option_labels(page, "quality") == ["auto (default)"]
    assert _option_labels(page, "output-format") == ["png (default)", "jpeg", "webp"]
    assert _option_labels(page, "background") == ["auto (default)", "opaque"]
    assert page.locator("#compression-field").is_hidden()
    page.select_option("#output-format", "webp")
    assert page.locator("#compression-field").is_visible()
    page.select_option("#output-format", "")
    assert page.locator("#compression-field").is_hidden()
    page.select_option("#output-format", "jpeg")
    page.select_option("#size", "1536x1024")
    page.fill("#output-compression", "40")
    _use_key(page, KEY)

    sent, answer = _submit(page, "an offline jpeg")

    assert sent == {
        "prompt": "an offline jpeg",
        "size": "1536x1024",
        "output_format": "jpeg",
        "output_compression": 40,
    }
    assert answer.status == 202  # the page asks for a job and follows it
    page.locator("#grid li .caption", has_text="an offline jpeg").wait_for()
    image = _made_image(gallery_server, answer, KEY)
    assert (image["media_type"], image["width"], image["height"]) == ("image/jpeg", 1536, 1024)
    with gallery_server.client() as client:
        content = client.get(f"/image/{image['guid']}/content")
    assert content.headers["content-type"] == "image/jpeg"
    drawn = Image.open(io.BytesIO(content.content))
    assert (drawn.format, drawn.size) == ("JPEG", (1536, 1024))


def test_options_left_at_their_defaults_are_not_sent(
    options_server: LiveServer, module_fake_openai: FakeOpenAI, page: Any
) -> None:
    page.goto(f"{options_server.base_url}/gallery")
    page.locator("#options").wait_for()
    _use_key(page, OWNER_KEY)
    sent, answer = _submit(page, "all defaults")
    assert sent == {"prompt": "all defaults"}
    assert answer.status == 202
    page.locator("#grid li .caption", has_text="all defaults").wait_for()
    asked = module_fake_openai.requests[-1]
    assert asked["prompt"] == "all defaults"
    assert not {"quality", "output_format", "output_compression", "background"} & set(asked)


def test_the_model_field_offers_each_models_own_sizes(
    options_server: LiveServer, page: Any
) -> None:
    page.goto(f"{options_server.base_url}/gallery")
    page.locator("#model-field").wait_for()
    assert _option_labels(page, "model") == ["gpt-image-2 (default)", "tiny-model"]
    page.select_option("#model", "tiny-model")
    assert _option_labels(page, "size") == ["default", *TINY_SIZES]
    page.select_option("#size", "384x256")
    page.select_option("#model", "")  # the default model does not make 384x256
    assert page.input_value("#size") == ""
    assert "1536x1024" in _option_labels(page, "size")


def test_an_impossible_combination_shows_the_problem(
    options_server: LiveServer, module_fake_openai: FakeOpenAI, page: Any
) -> None:
    page.goto(f"{options_server.base_url}/gallery")
    page.locator("#options").wait_for()
    _use_key(page, OWNER_KEY)
    page.select_option("#output-format", "jpeg")
    page.select_option("#background", "transparent")
    asked_before = len(module_fake_openai.requests)

    sent, answer = _submit(page, "a transparent jpeg")

    assert sent["background"] == "transparent" and sent["output_format"] == "jpeg"
    assert answer.status == 422
    page.locator("#error").wait_for()
    assert page.locator("#error-title").text_content() == "Invalid request"
    assert page.locator("#error-list li").all_text_contents() == [
        "background: background transparent needs output_format png or webp"
    ]
    assert page.locator("#background").get_attribute("aria-invalid") == "true"
    assert len(module_fake_openai.requests) == asked_before  # nothing was billed
    assert page.locator("#grid li .caption", has_text="a transparent jpeg").count() == 0
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator(".generate").screenshot(path=str(ARTIFACTS / "options-problem.png"))


def test_a_field_the_service_refuses_is_named_and_marked(
    options_server: LiveServer, page: Any
) -> None:
    """A cached /models older than the settings may offer a size the model no longer makes."""

    def stale_choices(route: Any) -> None:
        choices = route.fetch().json()
        choices["models"][1]["sizes"].append("1024x1024")
        route.fulfill(json=choices)

    page.route("**/models", stale_choices)
    page.goto(f"{options_server.base_url}/gallery")
    page.locator("#model-field").wait_for()
    _use_key(page, OWNER_KEY)
    page.select_option("#model", "tiny-model")
    page.select_option("#size", "1024x1024")

    _, answer = _submit(page, "a size tiny-model does not make")

    assert answer.status == 422
    page.locator("#error").wait_for()
    assert page.locator("#error-list li").all_text_contents() == [
        "size: tiny-model makes these sizes: " + ", ".join(TINY_SIZES)
    ]
    assert page.locator("#error-detail").text_content() == ""  # not said twice
    assert page.locator("#size").get_attribute("aria-invalid") == "true"
    page.select_option("#size", "256x256")
    _, fixed = _submit(page, "a size tiny-model makes")
    assert fixed.status == 202
    page.locator("#grid li .caption", has_text="a size tiny-model makes").wait_for()
    assert page.locator("#error").is_hidden()
    assert page.locator("#size").get_attribute("aria-invalid") is None


def _usd(amount: float) -> str:
    """As the page writes dollars: two to four decimals."""
    text = f"{amount:.4f}".rstrip("0")
    whole, _, cents = text.partition(".")
    return f"${whole}.{cents.ljust(2, '0')}"


def test_the_viewer_shows_what_the_image_is_and_its_cost_to_its_owner(
    options_server: LiveServer, page: Any
) -> None:
    prompt = "a webp to look at closely"
    owner = {"Authorization": f"Bearer {OWNER_KEY}"}
    with options_server.client(headers=owner) as client:
        image = client.post(
            "/image/",
            json={
                "prompt": prompt,
                "model": "tiny-model",
                "size": "384x256",
                "output_format": "webp",
                "quality": "high",
            },
        ).json()
        usage = client.get(f"/jobs/{image['guid']}").json()["usage"]
    assert usage["output_tokens"] > 0 and usage["cost_usd"] > 0

    page.goto(f"{options_server.base_url}/gallery")
    _use_key(page, OWNER_KEY)
    page.locator(".tile", has_text=prompt).click()
    page.locator("#viewer[data-cost=shown]").wait_for()
    facts = {
        name: page.locator(f"#viewer-{name}").text_content()
        for name in ("model", "size", "format", "bytes", "quality", "cost")
    }
    assert facts == {
        "model": "tiny-model",
        "size": "384 \N{MULTIPLICATION SIGN} 256",
        "format": "image/webp",
        "bytes": f"{image['bytes'] / 1024:.1f} KiB ({image['bytes']:,} bytes)",
        "quality": "high",
        "cost": f"{_usd(usage['cost_usd'])} (tokens: {usage['text_input_tokens']:,} text in, "
        f"{usage['image_input_tokens']:,} image in, {usage['output_tokens']:,} out)",
    }
    assert page.locator("#viewer-cost-row").is_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "viewer.png"), full_page=False)
    page.click("#viewer-close")

    # Another key did not make it: no cost, and no error either.
    _use_key(page, OTHER_KEY)
    with page.expect_response("**/jobs/*") as looked_up:
        page.locator(".tile", has_text=prompt).click()
    assert looked_up.value.status == 404
    page.locator("#viewer[data-cost=none]").wait_for()
    assert page.locator("#viewer-cost-row").is_hidden()
    assert page.locator("#viewer-format").text_content() == "image/webp"
    assert page.locator("#error").is_hidden()


def test_a_failure_shows_the_problem_plainly(gallery_server: LiveServer, page: Any) -> None:
    page.goto(f"{gallery_server.base_url}/gallery")
    page.fill("#prompt", "no key given")
    page.click("#generate-button")
    page.locator("#error").wait_for()
    assert page.locator("#error-title").text_content() == "Not authenticated"
    assert "API key" in page.locator("#error-detail").text_content()
    assert page.locator("#key-box").get_attribute("open") is not None


def test_phone_width_screenshot(gallery_server: LiveServer, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone = context.new_page()
    phone.goto(f"{gallery_server.base_url}/gallery")
    phone.locator("#grid li").nth(3).wait_for()
    phone.locator("#options").wait_for()
    width = phone.evaluate("document.documentElement.scrollWidth")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(ARTIFACTS / "phone.png"), full_page=False)
    context.close()
    assert width <= 390  # nothing wider than the screen
    assert (ARTIFACTS / "phone.png").stat().st_size > 1000


# Progress: the page follows the job it started over its event stream.

PROGRESS_KEY = "progress-key"

# Records, in order, what the page showed: each status, each partial render, each new tile.
WATCH_PROGRESS = """() => {
  window.seen = [];
  const note = (entry) => window.seen.at(-1) !== entry && window.seen.push(entry);
  const progress = document.getElementById("progress");
  const preview = document.getElementById("preview-image");
  new MutationObserver(() => progress.dataset.status && note(`status ${progress.dataset.status}`))
    .observe(progress, { attributes: true, attributeFilter: ["data-status"] });
  new MutationObserver(() => preview.dataset.partial && note(`partial ${preview.dataset.partial}`))
    .observe(preview, { attributes: true, attributeFilter: ["data-partial"] });
  new MutationObserver((records) => {
    for (const record of records) {
      for (const node of record.addedNodes) {
        note(`tile ${node.querySelector(".caption").textContent}`);
      }
    }
  }).observe(document.getElementById("grid"), { childList: true });
}"""


@pytest.fixture(scope="module")
def progress_server(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """The fake provider streaming two partial renders before each image."""
    with serve_fake_openai(
        request, "gallery-progress", PIXY_API_KEYS=PROGRESS_KEY, PIXY_PARTIAL_IMAGES="2"
    ) as setup:
        yield setup.server


@pytest.fixture
def slow_fake(fresh_fake: FakeOpenAI) -> FakeOpenAI:
    """Two seconds per image, the partial renders spread over them."""
    fresh_fake.delay = 2.0
    return fresh_fake


def _open_progress_page(server: LiveServer, page: Any) -> None:
    page.goto(f"{server.base_url}/gallery")
    page.locator("#options").wait_for()
    page.evaluate(WATCH_PROGRESS)
    _use_key(page, PROGRESS_KEY)


def _wait_until(page: Any, done: Any, what: str) -> None:
    """Lets the page run (and Playwright dispatch its events) until ``done()`` holds."""
    for _ in range(400):
        if done():
            return
        page.wait_for_timeout(25)
    raise AssertionError(f"never happened: {what}")


def _seen(page: Any) -> list[str]:
    seen: list[str] = page.evaluate("window.seen")
    return seen


def test_generating_shows_each_partial_render_then_the_final_tile(
    progress_server: LiveServer, slow_fake: FakeOpenAI, page: Any
) -> None:
    held: list[Any] = []
    page.route("**/partials/1", lambda route: held.append(route))  # held until the test lets go
    _open_progress_page(progress_server, page)

    _, answer = _submit(page, "a duck drawn slowly")

    assert answer.status == 202
    assert answer.request.headers["prefer"] == "respond-async"
    page.locator("#preview-image[data-partial='0']").wait_for()
    _wait_until(page, lambda: held, "the page asks for the second partial render")
    # The page reads its events in order: while the second render is held, the final status
    # cannot have been shown, whenever the job ends.
    assert page.locator("#progress").get_attribute("data-status") == "running"
    assert page.locator("#progress").text_content() == "Generating… this can take a minute."
    assert page.evaluate("document.getElementById('preview-image').naturalWidth") > 0
    assert page.locator("#grid li .caption", has_text="a duck drawn slowly").count() == 0
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator(".generate").screenshot(path=str(ARTIFACTS / "progress-partial.png"))
    held[0].continue_()

    page.locator("#grid li .caption", has_text="a duck drawn slowly").wait_for()
    seen = _seen(page)
    assert seen[-3:] == ["partial 0", "partial 1", "tile a duck drawn slowly"]
    assert "status running" in seen[: seen.index("partial 0")]
    assert page.locator("#preview").is_hidden() and page.locator("#progress").is_hidden()
    assert page.locator("#preview-image").get_attribute("src") is None
    assert page.locator("#error").is_hidden()
    page.screenshot(path=str(ARTIFACTS / "progress-done.png"), full_page=False)


def test_a_failed_job_shows_its_problem(
    progress_server: LiveServer, slow_fake: FakeOpenAI, page: Any
) -> None:
    slow_fake.scenario, slow_fake.delay = "safety", 0.5
    _open_progress_page(progress_server, page)

    _, answer = _submit(page, "something the provider refuses")

    assert answer.status == 202  # accepted: the provider refuses it later
    page.locator("#error").wait_for()
    assert page.locator("#error-title").text_content() == "Prompt rejected"
    assert "safety" in page.locator("#error-detail").text_content()
    assert page.input_value("#prompt") == "something the provider refuses"  # to edit and retry
    assert page.locator("#progress").is_hidden()
    assert page.locator("#grid li .caption", has_text="provider refuses").count() == 0
    assert "status running" in _seen(page) or "status queued" in _seen(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator(".generate").screenshot(path=str(ARTIFACTS / "progress-failed.png"))


def test_a_broken_stream_is_resumed_after_its_last_event(
    progress_server: LiveServer, slow_fake: FakeOpenAI, page: Any
) -> None:
    """A proxy cuts the first stream just after the first partial render: the page reconnects
    with Last-Event-ID and gets the rest, nothing twice."""
    cut_after: list[str] = []

    def cut_short(route: Any) -> None:
        blocks = route.fetch().text().split("\n\n")
        first_partial = next(n for n, b in enumerate(blocks) if "event: partial_image" in b)
        kept = blocks[: first_partial + 1]
        cut_after.append(kept[-1].split("\n")[0].removeprefix("id: "))
        body = "\n\n".join(kept).replace("retry: 3000", "retry: 200") + "\n\n"
        route.fulfill(status=200, headers={"content-type": "text/event-stream"}, body=body)

    page.route("**/events", cut_short, times=1)
    streams: list[Any] = []
    partials: list[str] = []

    def note(request: Any) -> None:
        if "/events" in request.url:
            streams.append(request)
        if "/partials/" in request.url:
            partials.append(request.url[-10:])

    page.on("request", note)
    _open_progress_page(progress_server, page)

    _submit(page, "a duck over a bad line")

    page.locator("#grid li .caption", has_text="a duck over a bad line").wait_for()
    assert len(streams) == 2
    assert "last-event-id" not in streams[0].headers
    assert streams[1].headers["last-event-id"] == cut_after[0]
    assert partials == ["partials/0", "partials/1"]  # each render fetched once
    shown = [entry for entry in _seen(page) if not entry.startswith("status")]
    assert shown == ["partial 0", "partial 1", "tile a duck over a bad line"]
    assert page.locator("#grid li .caption", has_text="a duck over a bad line").count() == 1
    assert page.locator("#error").is_hidden()


def test_a_stream_that_keeps_breaking_gives_way_to_polling(
    progress_server: LiveServer, slow_fake: FakeOpenAI, page: Any
) -> None:
    """A proxy that ends every event stream at once: the page asks for the job itself."""
    streams: list[str] = []

    def cut_at_once(route: Any) -> None:
        streams.append(route.request.url)
        route.fulfill(
            status=200, headers={"content-type": "text/event-stream"}, body="retry: 50\n\n"
        )

    page.route("**/events", cut_at_once)
    answered: list[Any] = []
    page.on("response", lambda response: answered.append(response))
    _open_progress_page(progress_server, page)
    _, answer = _submit(page, "a duck behind a stubborn proxy")

    page.locator("#grid li .caption", has_text="a duck behind a stubborn proxy").wait_for()
    job_url = f"{progress_server.base_url}{answer.headers['location']}"
    polls = [r for r in answered if r.url == job_url]
    assert polls and all(r.request.method == "GET" and r.status == 200 for r in polls)
    assert polls[-1].json()["status"] == "succeeded"
    assert len(streams) == 4  # given up on after four breaks in a row, not retried for ever
    assert page.locator("#error").is_hidden()


def test_another_generation_stops_following_the_first(
    progress_server: LiveServer, slow_fake: FakeOpenAI, page: Any
) -> None:
    aborted: list[str] = []
    page.on("requestfailed", lambda request: aborted.append(request.url))
    _open_progress_page(progress_server, page)
    _, first = _submit(page, "the first duck")
    page.locator("#progress[data-status=running]").wait_for()

    _, second = _submit(page, "the second duck")

    page.locator("#grid li .caption", has_text="the second duck").wait_for()
    first_events = f"{progress_server.base_url}{first.headers['location']}/events"
    assert first_events in aborted  # its stream was closed, not left running
    with progress_server.client(headers={"Authorization": f"Bearer {PROGRESS_KEY}"}) as client:
        job = client.get(first.headers["location"]).json()
    assert job["status"] in ("running", "succeeded")  # the job itself runs on
    assert page.locator("#grid li .caption", has_text="the first duck").count() == 0
    assert second.status == 202
