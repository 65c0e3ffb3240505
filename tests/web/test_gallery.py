"""The gallery in a real browser: Debian's Chromium driven by Playwright, against a live server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures import PROJECT_ROOT, LiveServer, start_live_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = PROJECT_ROOT / "artifacts" / "gallery"
XSS = "<img src=x onerror=alert(1)>"
KEY = "gallery-test-key"


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
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.alerts = []
    opened.on("dialog", lambda dialog: (opened.alerts.append(dialog.message), dialog.dismiss()))
    yield opened
    context.close()


@pytest.mark.parametrize(
    "path", ["/", "/gallery", "/static/index.html", "/static/gallery.js", "/static/gallery.css"]
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
    width = phone.evaluate("document.documentElement.scrollWidth")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(ARTIFACTS / "phone.png"), full_page=False)
    context.close()
    assert width <= 390  # nothing wider than the screen
    assert (ARTIFACTS / "phone.png").stat().st_size > 1000
