"""The cross-origin check against the configured public origin, spelt as browsers spell it."""

from __future__ import annotations

import pytest
from starlette.datastructures import MutableHeaders

from app.kit.security import _origin_of, is_cross_origin


def post_from(origin: str, base_url: str) -> bool:
    """Whether a POST with this Origin (and no Sec-Fetch-Site: an older browser) is refused."""
    return is_cross_origin("POST", MutableHeaders(headers={"origin": origin}), _origin_of(base_url))


@pytest.mark.parametrize(
    ("base_url", "browser_origin"),
    [
        ("https://example.org:443/petitions", "https://example.org"),  # a default port
        ("http://example.org:80", "http://example.org"),
        ("https://Example.ORG/", "https://example.org"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),  # an international name
        ("https://example.org:8443", "https://example.org:8443"),
        ("http://[::1]:8000/", "http://[::1]:8000"),
    ],
)
def test_our_own_origin_is_recognised_however_the_base_url_spells_it(
    base_url: str, browser_origin: str
) -> None:
    assert not post_from(browser_origin, base_url)


@pytest.mark.parametrize(
    "browser_origin",
    [
        "https://example.org:8443",  # another port
        "http://example.org",  # another scheme
        "https://example.org.",  # a trailing dot is another origin to a browser
        "https://evil.example.org",
        "https://xn--exmple-cua.org",  # an international name that looks alike
        "null",
    ],
)
def test_any_other_origin_is_refused(browser_origin: str) -> None:
    assert post_from(browser_origin, "https://example.org:443/petitions")
