"""/docs and /redoc load every file from the server itself: they work on a network without a CDN."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

EXPECTED_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".json": "application/json",
}


class _References(HTMLParser):
    """The URLs a page makes the browser load: scripts, style sheets, icons, and ReDoc's spec."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src", "redoc": "spec-url"}.get(tag)
        self.urls += [value for name, value in attrs if name == wanted and value is not None]


def references(html: str) -> list[str]:
    parser = _References()
    parser.feed(html)
    # Swagger UI's init script names the document and the OAuth2 redirect page in JavaScript.
    parser.urls += re.findall(r"url: '([^']+)'", html)
    parser.urls += re.findall(r"window\.location\.origin \+ '([^']+)'", html)
    return parser.urls


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_a_page_references_only_its_own_server(client: TestClient, page: str) -> None:
    answer = client.get(page)

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    urls = references(answer.text)
    assert any(url.endswith(".js") or ".js?" in url for url in urls), urls
    for url in urls:
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("", ""), url
        assert url.startswith("/"), url
    assert re.search(r"https?://", answer.text) is None


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_every_file_a_page_loads_is_served_with_its_type(client: TestClient, page: str) -> None:
    for url in references(client.get(page).text):
        answer = client.get(url)
        assert answer.status_code == 200, url
        path = urlsplit(url).path
        suffix = re.search(r"\.[a-z]+$", path)
        expected = EXPECTED_TYPES[suffix.group()] if suffix else "text/html"
        assert answer.headers["content-type"].startswith(expected), url
        # Under nosniff, a browser runs a script only when its type says it is one.
        assert answer.headers["x-content-type-options"] == "nosniff"
        if path.startswith("/static/"):
            assert "max-age=31536000" in answer.headers["cache-control"], url
            assert "no-store" not in answer.headers["cache-control"], url
            assert len(answer.content) > 1000, url


def test_swagger_ui_signs_in_through_the_token_route_of_the_same_server(
    client: TestClient,
) -> None:
    page = client.get("/docs").text
    assert "oauth2RedirectUrl: window.location.origin + '/docs/oauth2-redirect'" in page
    redirect = client.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200
    assert "swaggerUIRedirectOauth2" in redirect.text
    schemes = client.get("/openapi.json").json()["components"]["securitySchemes"]
    flows = [s["flows"] for s in schemes.values() if s["type"] == "oauth2"]
    assert flows == [{"password": {"scopes": {}, "tokenUrl": "/auth/token"}}]


def test_only_the_pages_files_are_served_from_their_folder(client: TestClient) -> None:
    for path in ("/static/docs/core.py", "/static/docs/..%2F__init__.py", "/static/docs/"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"] == "application/json"
