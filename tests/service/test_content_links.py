"""Redirect targets: presigned URLs stable within a window, and CDN base URLs."""

from __future__ import annotations

from app.service.content_links import PUBLIC_BASE_MAX_AGE, PresignedLinks, PublicBaseLinks


class CountingPresigner:
    """Signs by numbering: each new signature is a new URL."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def presigned_url(self, key: str, *, expires_in: int) -> str:
        self.calls.append((key, expires_in))
        return f"https://bucket.test/{key}?sig={len(self.calls)}"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_same_url_within_a_window_and_a_new_one_after() -> None:
    presigner, clock = CountingPresigner(), Clock(9_900.0)  # the start of a window
    links = PresignedLinks(presigner, ttl=600, clock=clock)
    first = links.link("a.png")
    clock.now += 250
    assert links.link("a.png").url == first.url
    assert links.link("b.png").url != first.url
    clock.now += 100  # past the 300-second window
    assert links.link("a.png").url != first.url
    assert presigner.calls == [("a.png", 600), ("b.png", 600), ("a.png", 600)]


def test_redirect_is_cacheable_only_while_the_url_lives() -> None:
    clock = Clock(9_000.0)
    links = PresignedLinks(CountingPresigner(), ttl=600, clock=clock)
    fresh = links.link("a.png")
    assert 0 < fresh.max_age <= 600
    clock.now += 299
    later = links.link("a.png")
    assert later.url == fresh.url
    assert later.max_age <= 600 - 299


def test_public_base_links_append_the_quoted_key() -> None:
    link = PublicBaseLinks("https://cdn.test/images/").link("pre fix/a.png")
    assert link.url == "https://cdn.test/images/pre%20fix/a.png"
    assert link.max_age == PUBLIC_BASE_MAX_AGE
