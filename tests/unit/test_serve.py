"""Tests for syndication.serve: the real uvicorn server over real HTTP on 127.0.0.1.

Owns: conditional requests (ETag, If-None-Match, If-Modified-Since), gzip negotiation, a
browser opening a feed getting the feed's page while feed readers get the feed, media types,
HEAD, 404s and redirects, path traversal (raw request targets over a socket, since httpx
normalises ``..``), a request that never arrives whole dropped (slowloris), freshness after a
file is rewritten, and ``/healthz``; and deploy/nginx.conf on the real nginx answering as the
built-in server does (a feed's page for browsers, CORS, a withdrawn story's page 410 Gone with
its notice, the notices' copies under ``withdrawn/`` never served at their own URL).
"""

from __future__ import annotations

import gzip
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx
import pytest

from syndication.negotiate import accepts_gzip, etag_matches
from syndication.serve import make_server, media_type, wants_page
from tests.nginx import nginx_serving

SECRET = "TOP-SECRET-do-not-serve"
# Big and repetitive enough to be gzipped (over the 1 KB threshold and compressible).
RSS = (
    '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
    + ("<item><title>Жаңалық 新闻 news</title></item>" * 80)
    + "</channel></rss>\n"
)


@dataclass
class Running:
    base: str
    port: int
    root: Path
    client: httpx.Client


def _site(root: Path) -> None:
    """A small published tree like the publisher writes it."""
    (root / "kk" / "articles").mkdir(parents=True)
    (root / "kk" / "sources" / "abc").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "index.html").write_text("<!doctype html><title>home</title>\n", encoding="utf-8")
    (root / "feeds.opml").write_text("<opml version='2.0'/>\n", encoding="utf-8")
    (root / "kk" / "index.html").write_text("<title>kk</title>\n", encoding="utf-8")
    (root / "kk" / "rss.xml").write_text(RSS, encoding="utf-8")
    (root / "kk" / "atom.xml").write_text("<feed/>\n", encoding="utf-8")
    (root / "kk" / "feed.json").write_text('{"version": "1.1"}\n', encoding="utf-8")
    (root / "kk" / "articles" / "a-1.html").write_text("<p>a</p>\n", encoding="utf-8")
    (root / "kk" / "sources" / "abc" / "rss.xml").write_text("<rss/>\n", encoding="utf-8")
    (root / "style.xsl").write_text("<xsl:stylesheet/>\n", encoding="utf-8")
    (root / "site.css").write_text("body{}\n", encoding="utf-8")
    (root / ".rss.xml.tmp").write_text("half-written", encoding="utf-8")


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    """Start servers on a free port in background threads; stop and join them afterwards.

    The served root is ``tmp_path / "public"`` so the secret file in ``tmp_path`` sits in the
    root's parent, exactly where a ``..`` escape would land.
    """
    root = tmp_path / "public"
    root.mkdir()
    _site(root)
    (tmp_path / "secret.txt").write_text(SECRET, encoding="utf-8")
    stops: list[Callable[[], None]] = []

    def _start(health: Callable[[], dict[str, Any]] | None = None, **options: Any) -> Running:
        server = make_server(root, "127.0.0.1", 0, health=health, **options)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive(), "server thread died during startup"
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        client = httpx.Client(base_url=base, timeout=5)

        def stop() -> None:
            client.close()
            server.should_exit = True
            thread.join(timeout=10)
            assert not thread.is_alive(), "server did not stop"

        stops.append(stop)
        return Running(base=base, port=port, root=root, client=client)

    yield _start
    for stop in stops:
        stop()


@pytest.fixture
def srv(start: Callable[..., Running]) -> Running:
    return start()


def raw_get(port: int, target: str, method: str = "GET") -> tuple[int, bytes]:
    """Send ``target`` byte for byte (no client-side normalisation); return status and body."""
    request = (
        f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: identity\r\n"
        "Connection: close\r\n\r\n"
    ).encode("latin-1")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        chunks: list[bytes] = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    data = b"".join(chunks)
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body


# --- conditional requests ------------------------------------------------------------------


def test_get_sends_strong_etag_last_modified_and_cache_headers(srv: Running) -> None:
    r = srv.client.get("/kk/rss.xml", headers={"Accept-Encoding": "identity"})
    assert r.status_code == 200
    assert r.text == RSS
    etag = r.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    mtime = (srv.root / "kk" / "rss.xml").stat().st_mtime
    assert r.headers["last-modified"] == formatdate(mtime, usegmt=True)
    assert "max-age=" in r.headers["cache-control"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-length"] == str(len(RSS.encode("utf-8")))
    # The ETag comes from the content: identical bytes elsewhere get the same tag.
    (srv.root / "copy.xml").write_bytes((srv.root / "kk" / "rss.xml").read_bytes())
    copy = srv.client.get("/copy.xml", headers={"Accept-Encoding": "identity"})
    assert copy.headers["etag"] == etag


@pytest.mark.parametrize(
    "make_inm",
    [
        lambda tag: tag,
        lambda tag: f'"nope", {tag}',
        lambda tag: f"W/{tag}",
        lambda tag: "*",
    ],
    ids=["exact", "list", "weak", "star"],
)
def test_if_none_match_gives_304(srv: Running, make_inm: Callable[[str], str]) -> None:
    plain = {"Accept-Encoding": "identity"}
    etag = srv.client.get("/kk/rss.xml", headers=plain).headers["etag"]
    r = srv.client.get("/kk/rss.xml", headers={**plain, "If-None-Match": make_inm(etag)})
    assert r.status_code == 304
    assert r.content == b""
    assert r.headers["etag"] == etag


def test_if_none_match_mismatch_gives_200_and_beats_if_modified_since(srv: Running) -> None:
    future = formatdate(time.time() + 3600, usegmt=True)
    r = srv.client.get(
        "/kk/rss.xml",
        headers={"If-None-Match": '"other"', "If-Modified-Since": future},
    )
    assert r.status_code == 200
    assert r.text == RSS


def test_if_modified_since(srv: Running) -> None:
    first = srv.client.get("/kk/atom.xml")
    same = srv.client.get(
        "/kk/atom.xml", headers={"If-Modified-Since": first.headers["last-modified"]}
    )
    assert same.status_code == 304
    older = formatdate(time.time() - 10 * 86400, usegmt=True)
    (srv.root / "kk" / "atom.xml").touch()
    r = srv.client.get("/kk/atom.xml", headers={"If-Modified-Since": older})
    assert r.status_code == 200
    assert r.text == "<feed/>\n"
    garbage = srv.client.get("/kk/atom.xml", headers={"If-Modified-Since": "yesterday"})
    assert garbage.status_code == 200


# --- gzip -----------------------------------------------------------------------------------


def test_gzip_when_accepted(srv: Running) -> None:
    plain = srv.client.get("/kk/rss.xml", headers={"Accept-Encoding": "identity"})
    r = srv.client.get("/kk/rss.xml", headers={"Accept-Encoding": "gzip, deflate"})
    assert r.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in r.headers["vary"].lower()
    assert r.text == RSS  # httpx inflated it
    assert int(r.headers["content-length"]) < len(RSS.encode("utf-8"))
    assert gzip.decompress(_raw_body(srv, "/kk/rss.xml", "gzip")) == RSS.encode("utf-8")
    # The gzip variant is a different representation, so it carries a different ETag ...
    assert r.headers["etag"] != plain.headers["etag"]
    # ... which revalidates that variant.
    again = srv.client.get(
        "/kk/rss.xml", headers={"Accept-Encoding": "gzip", "If-None-Match": r.headers["etag"]}
    )
    assert again.status_code == 304


def _raw_body(srv: Running, path: str, encoding: str) -> bytes:
    with srv.client.stream("GET", path, headers={"Accept-Encoding": encoding}) as r:
        return b"".join(r.iter_raw())


@pytest.mark.parametrize("accept", ["identity", "gzip;q=0", "br", "gzip;q=0, *"])
def test_no_gzip_unless_accepted(srv: Running, accept: str) -> None:
    r = srv.client.get("/kk/rss.xml", headers={"Accept-Encoding": accept})
    assert "content-encoding" not in r.headers
    assert "accept-encoding" in r.headers["vary"].lower()
    assert _raw_body(srv, "/kk/rss.xml", accept) == RSS.encode("utf-8")


def test_small_files_are_not_gzipped(srv: Running) -> None:
    r = srv.client.get("/kk/atom.xml", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in r.headers


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip", True),
        ("GZIP;q=0.5", True),
        ("x-gzip", True),
        ("*", True),
        ("deflate, br", False),
        ("gzip;q=0", False),
        ("gzip;q=0.0, *;q=1", False),
        ("", False),
    ],
)
def test_accepts_gzip(header: str, expected: bool) -> None:
    assert accepts_gzip(header) is expected


def test_etag_matches_uses_weak_comparison() -> None:
    assert etag_matches('W/"a"', '"a"')
    assert etag_matches('"b" , "a"', '"a"')
    assert not etag_matches('"ab"', '"a"')
    assert not etag_matches('"a-gz"', '"a"')


# --- a browser opening a feed --------------------------------------------------------------

# What browsers send when a person opens a URL (Chromium and Firefox/Safari), and what feed
# readers and the W3C validator send (Miniflux, SimplePie/FreshRSS, NetNewsWire-style, the
# validator, curl, Python).
CHROME = ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
          "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7")  # fmt: skip
FIREFOX = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
READERS = [
    "application/xml, application/atom+xml, application/rss+xml, application/rdf+xml, "
    "application/feed+json, text/html, */*;q=0.9",
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, application/xml;"
    "q=0.8, text/xml;q=0.8, text/html;q=0.7, unknown/unknown;q=0.1, application/unknown;q=0.1, "
    "*/*;q=0.1",
    "application/rss+xml, application/atom+xml, application/feed+json, application/json, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8",
    "application/atom+xml,application/rdf+xml,application/rss+xml,application/x-netcdf,"
    "application/xml;q=0.9,text/xml;q=0.2,*/*;q=0.1",
    "*/*",
    "",
    "text/html;q=0.5, */*",
    "text/html, application/rss+xml",
]


NEGOTIATION = [
    ({"accept": CHROME, "sec-fetch-dest": "document"}, True),
    ({"accept": CHROME}, True),  # plain http to a public host: no Sec-Fetch-* at all
    ({"accept": FIREFOX}, True),
    ({"accept": "text/html"}, True),
    ({"sec-fetch-dest": "document"}, True),
    ({"accept": "*/*", "sec-fetch-dest": "empty"}, False),  # a script's fetch()
    ({"accept": CHROME, "sec-fetch-dest": "empty"}, False),
    *(({"accept": accept}, False) for accept in READERS if accept),
    ({}, False),
    ({"accept": "text/html;q=0"}, False),
    # Where deploy/nginx.conf and the built-in server chose differently (exploreI): text/html
    # and */* at one weight is no browser's navigation, nor is an Accept that names a feed type
    # and lowers text/html; the rule compares weights with 1 only, so a map says it exactly.
    ({"accept": "text/html, */*"}, False),
    ({"accept": "application/rss+xml;q=0.5, text/html;q=0.9"}, False),
    ({"accept": "text/html;q=0.9"}, False),
    ({"accept": "text/html, application/*"}, False),
    ({"accept": "text/html, text/*"}, False),
    ({"accept": "text/html, application/json;q=1.0"}, False),
    ({"accept": "text/html, application/rdf+xml"}, False),
    ({"accept": "*/*;q=0.8, text/html"}, True),  # text/html need not come first
    ({"accept": "text/html;q=1.0, application/xml;q=0.9"}, True),
    ({"accept": "TEXT/HTML ; Q=1"}, True),
    ({"accept": "text/html;level=1, text/*;q=0.5"}, True),
    ({"accept": "application/xhtml+xml, */*;q=0.1"}, True),
    ({"accept": "*/*", "sec-fetch-dest": "iframe"}, True),
]


@pytest.mark.parametrize(("headers", "page"), NEGOTIATION)
def test_wants_page(headers: dict[str, str], page: bool) -> None:
    assert wants_page(headers, "application/rss+xml; charset=utf-8") is page


def test_a_browser_opening_a_feed_gets_its_page(srv: Running) -> None:
    page = (srv.root / "kk" / "index.html").read_bytes()
    for name in ("rss.xml", "atom.xml", "feed.json"):
        r = srv.client.get(f"/kk/{name}", headers={"Accept": CHROME, "Sec-Fetch-Dest": "document"})
        assert r.status_code == 200, name
        assert r.headers["content-type"] == "text/html; charset=utf-8"
        assert r.content == page
        vary = {v.strip().lower() for v in r.headers["vary"].split(",")}
        assert {"accept", "sec-fetch-dest"} <= vary
        # A shared cache that ignored Vary must never hand this page to a feed reader.
        assert r.headers["cache-control"].startswith("private")
        head = srv.client.head(f"/kk/{name}", headers={"Accept": FIREFOX})
        assert head.headers["content-type"] == "text/html; charset=utf-8" and head.content == b""


@pytest.mark.parametrize("accept", READERS)
def test_feed_readers_get_the_feed_bytes_with_etags(srv: Running, accept: str) -> None:
    headers = {"Accept": accept, "Accept-Encoding": "identity"} if accept else {}
    r = srv.client.get("/kk/rss.xml", headers=headers)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert r.text == RSS
    assert "accept" in {v.strip().lower() for v in r.headers["vary"].split(",")}
    assert r.headers["cache-control"] == "public, max-age=300"
    again = srv.client.get("/kk/rss.xml", headers={**headers, "If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


def test_page_and_feed_are_separate_representations(srv: Running) -> None:
    browser = {"Accept": CHROME, "Sec-Fetch-Dest": "document", "Accept-Encoding": "identity"}
    feed = srv.client.get("/kk/rss.xml", headers={"Accept-Encoding": "identity"})
    page = srv.client.get("/kk/rss.xml", headers=browser)
    assert page.headers["etag"] != feed.headers["etag"]
    # The browser revalidates its page; the feed's ETag does not stand in for it.
    assert srv.client.get("/kk/rss.xml", headers={**browser, "If-None-Match": page.headers[
        "etag"]}).status_code == 304  # fmt: skip
    stale = srv.client.get(
        "/kk/rss.xml", headers={**browser, "If-None-Match": feed.headers["etag"]}
    )
    assert stale.status_code == 200 and stale.headers["content-type"].startswith("text/html")


def test_a_feed_folder_without_a_page_serves_the_feed_to_browsers_too(srv: Running) -> None:
    r = srv.client.get("/kk/sources/abc/rss.xml", headers={"Accept": CHROME})
    assert r.status_code == 200 and r.text == "<rss/>\n"
    assert r.headers["content-type"] == "application/rss+xml; charset=utf-8"
    # Other files are never negotiated: a browser asking for the OPML gets the OPML.
    opml = srv.client.get("/feeds.opml", headers={"Accept": CHROME})
    assert opml.headers["content-type"] == "text/x-opml; charset=utf-8"
    _browsers_in_a_folder_without_a_page(srv.base, srv.root)


def _browsers_in_a_folder_without_a_page(base: str, root: Path) -> None:
    """A browser opening an archive feed gets the feed while its folder has no index.html,
    and the folder's page once it has one; a feed reader gets the feed throughout."""
    archive = root / "kk" / "archive" / "1"
    archive.mkdir(parents=True)
    feeds = {"rss.xml": ("<rss>archive</rss>\n", "application/rss+xml"),
             "atom.xml": ("<feed>archive</feed>\n", "application/atom+xml"),
             "feed.json": ('{"items": []}\n', "application/feed+json")}  # fmt: skip
    for name, (text, _) in feeds.items():
        (archive / name).write_text(text, encoding="utf-8")
    browsers = ({"Accept": CHROME, "Sec-Fetch-Dest": "document"}, {"Accept": FIREFOX})
    for name, (text, media) in feeds.items():
        for headers in browsers:
            got = httpx.get(f"{base}/kk/archive/1/{name}", headers=headers)
            assert (got.status_code, got.text) == (200, text), (name, headers)
            assert got.headers["content-type"].startswith(media), (name, headers)
    (archive / "index.html").write_text("<title>archive 1</title>\n", encoding="utf-8")
    for name, (text, media) in feeds.items():
        for headers in browsers:
            got = httpx.get(f"{base}/kk/archive/1/{name}", headers=headers)
            assert (got.status_code, got.text) == (200, "<title>archive 1</title>\n"), name
            assert got.headers["content-type"].startswith("text/html"), name
        reader = httpx.get(f"{base}/kk/archive/1/{name}", headers={"Accept": READERS[0]})
        assert (reader.text, reader.headers["content-type"].startswith(media)) == (text, True)


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """deploy/nginx.conf serving a published tree, as the Compose `nginx` service runs it."""
    root = tmp_path / "public"
    root.mkdir()
    _site(root)
    with nginx_serving(root, tmp_path) as base:
        yield base, root


def test_nginx_conf_answers_browsers_and_feed_readers_as_the_built_in_server_does(
    nginx: tuple[str, Path],
) -> None:
    base, root = nginx
    page = (root / "kk" / "index.html").read_bytes()
    for name, media in (("rss.xml", "application/rss+xml"), ("atom.xml", "application/atom+xml"),
                        ("feed.json", "application/feed+json")):  # fmt: skip
        feed = (root / "kk" / name).read_bytes()
        for headers, wanted in NEGOTIATION:
            assert wants_page(headers, media) is wanted
            where = (name, headers)
            r = httpx.get(f"{base}/kk/{name}", headers={**headers, "accept-encoding": "identity"})
            assert r.status_code == 200, where
            assert r.content == (page if wanted else feed), where
            assert r.headers["content-type"].startswith("text/html" if wanted else media), where
            vary = {v.strip().lower() for v in r.headers.get_list("vary") for v in v.split(",")}
            assert {"accept", "sec-fetch-dest"} <= vary, where
            private = r.headers["cache-control"].startswith("private")
            assert private is wanted, where
            again = httpx.get(f"{base}/kk/{name}", headers={**headers, "accept-encoding":
                              "identity", "if-none-match": r.headers["etag"]})  # fmt: skip
            assert again.status_code == 304, where
    # Pages and other files are not negotiated, and stay public.
    index = httpx.get(f"{base}/kk/", headers={"accept": CHROME})
    assert index.headers["cache-control"] == "public, max-age=300"
    assert "sec-fetch-dest" not in index.headers.get("vary", "").lower()
    assert httpx.get(f"{base}/kk/.x.tmp").status_code == 404


def test_nginx_conf_gives_browsers_the_feed_where_its_folder_has_no_page(
    nginx: tuple[str, Path],
) -> None:
    """exploreI: behind deploy/nginx.conf a browser opening an archive feed (no index.html in
    archive/N/) got 404, where the built-in server answers with the feed."""
    base, root = nginx
    r = httpx.get(f"{base}/kk/sources/abc/rss.xml", headers={"Accept": CHROME})
    assert r.status_code == 200 and r.text == "<rss/>\n"
    _browsers_in_a_folder_without_a_page(base, root)


def test_nginx_conf_answers_browser_scripts_of_any_origin_as_the_built_in_server_does(
    nginx: tuple[str, Path],
) -> None:
    """The public files' CORS (tests/system/test_serving.py, for `syndication serve`)."""
    base, _ = nginx
    script = {"Origin": "https://reader.example", "Sec-Fetch-Mode": "cors",
              "Sec-Fetch-Dest": "empty", "Accept": "*/*"}  # fmt: skip
    for path in ("/kk/feed.json", "/kk/rss.xml", "/kk/atom.xml", "/kk/sources/abc/rss.xml",
                 "/feeds.opml", "/kk/", "/", "/style.xsl", "/kk/articles/a-1.html"):  # fmt: skip
        got = httpx.get(f"{base}{path}", headers=script)
        assert got.status_code == 200, path
        assert got.headers["access-control-allow-origin"] == "*", path
        exposed = {h.strip().lower() for h in got.headers["access-control-expose-headers"]
                   .split(",")}  # fmt: skip
        assert {"etag", "last-modified"} <= exposed, path
        assert got.headers["cache-control"].startswith("public"), path  # still there
        again = httpx.get(f"{base}{path}", headers={**script,
                          "If-None-Match": got.headers["etag"]})  # fmt: skip
        assert again.status_code == 304, path
        assert again.headers["access-control-allow-origin"] == "*", path
        preflight = httpx.options(f"{base}{path}", headers={
            "Origin": "https://reader.example", "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "if-none-match, if-modified-since"})  # fmt: skip
        assert preflight.status_code == 204, (path, preflight.status_code)
        assert preflight.headers["access-control-allow-origin"] == "*"
        methods = {m.strip() for m in preflight.headers["access-control-allow-methods"].split(",")}
        assert methods == {"GET", "HEAD", "OPTIONS"}
        allowed = {h.strip().lower() for h in
                   preflight.headers["access-control-allow-headers"].split(",")}  # fmt: skip
        assert {"if-none-match", "if-modified-since"} <= allowed
    # A browser's navigation still gets the page, private, and the feed its Vary.
    page = httpx.get(f"{base}/kk/rss.xml", headers={"Sec-Fetch-Dest": "document"})
    assert page.headers["cache-control"].startswith("private")
    assert page.headers["access-control-allow-origin"] == "*"
    assert httpx.get(f"{base}/kk/.x.tmp", headers=script).status_code == 404


# --- media types, HEAD, 404, methods --------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/kk/rss.xml", "application/rss+xml; charset=utf-8"),
        ("/kk/atom.xml", "application/atom+xml; charset=utf-8"),
        ("/kk/feed.json", "application/feed+json; charset=utf-8"),
        ("/kk/sources/abc/rss.xml", "application/rss+xml; charset=utf-8"),
        ("/index.html", "text/html; charset=utf-8"),
        ("/", "text/html; charset=utf-8"),
        ("/kk/articles/a-1.html", "text/html; charset=utf-8"),
        ("/feeds.opml", "text/x-opml; charset=utf-8"),
        ("/style.xsl", "text/xsl; charset=utf-8"),
        ("/site.css", "text/css; charset=utf-8"),
    ],
)
def test_media_types(srv: Running, path: str, expected: str) -> None:
    r = srv.client.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"] == expected


def test_media_type_fallbacks() -> None:
    assert media_type("sitemap.xml") == "application/xml; charset=utf-8"
    assert media_type("logo.png") == "application/octet-stream"


def test_index_files(srv: Running) -> None:
    assert srv.client.get("/").text == "<!doctype html><title>home</title>\n"
    assert srv.client.get("/kk/").text == "<title>kk</title>\n"
    moved = srv.client.get("/kk?x=1")
    assert moved.status_code == 301
    assert moved.headers["location"] == "/kk/?x=1"


def test_head_returns_headers_without_body(srv: Running) -> None:
    get = srv.client.get("/kk/rss.xml", headers={"Accept-Encoding": "identity"})
    r = srv.client.head("/kk/rss.xml", headers={"Accept-Encoding": "identity"})
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["etag"] == get.headers["etag"]
    assert r.headers["content-length"] == get.headers["content-length"]
    assert r.headers["content-type"] == "application/rss+xml; charset=utf-8"
    # Over a raw socket too, so no client could be hiding a body it chose not to read.
    status, body = raw_get(srv.port, "/kk/rss.xml", method="HEAD")
    assert (status, body) == (200, b"")


@pytest.mark.parametrize(
    "path",
    ["/missing.xml", "/kk/nope/rss.xml", "/empty/", "/empty", "/kk/rss.xml/", "/.rss.xml.tmp"],
)
def test_404(srv: Running, path: str) -> None:
    r = srv.client.get(path)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/plain")


def test_other_methods_405(srv: Running) -> None:
    r = srv.client.post("/kk/rss.xml", content=b"x")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, HEAD, OPTIONS"
    assert srv.client.delete("/kk/rss.xml").status_code == 405


# --- clients that never finish a request ---------------------------------------------------


def _closed_by_server(sock: socket.socket) -> bool:
    """Wait (up to the socket's timeout) for the server to close `sock` without answering."""
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True


def test_a_request_that_never_arrives_whole_is_dropped(start: Callable[..., Running]) -> None:
    """exploreI: a connection whose headers never ended (slowloris) was held for minutes, and
    300 of them at once, as uvicorn times out only the wait between requests. Now each request
    must arrive whole within `request_timeout` of its first byte (or of the connection)."""
    running = start(request_timeout=1.0)

    def connect() -> socket.socket:
        return socket.create_connection(("127.0.0.1", running.port), timeout=30)

    with connect() as silent, connect() as unfinished, connect() as trickling:
        unfinished.sendall(b"GET /kk/rss.xml HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        trickling.sendall(b"GET /kk/rss.xml HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        # A byte every 0.1 s does not renew the deadline; 30 s of them is the test's bound.
        for _ in range(300):
            try:
                trickling.sendall(b"a")
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(0.1)
        else:
            raise AssertionError("a trickled request was never dropped")
        assert _closed_by_server(trickling)
        assert _closed_by_server(unfinished)
        assert _closed_by_server(silent)
    # The deadline is each request's, not the connection's: a keep-alive client asking now
    # and then, for longer than the deadline in all, is answered every time.
    with httpx.Client(base_url=running.base, timeout=5) as client:
        for _ in range(4):
            assert client.get("/kk/atom.xml").text == "<feed/>\n"
            time.sleep(0.5)
    # A request sent in pieces, each soon after the last, is answered.
    with connect() as pieces:
        for part in (b"GET /kk/atom.xml HTTP/1.1\r\n", b"Host: 127.0.0.1\r\n",
                     b"Connection: close\r\n", b"\r\n"):  # fmt: skip
            pieces.sendall(part)
            time.sleep(0.1)
        answer = b"".join(iter(lambda: pieces.recv(65536), b""))
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"<feed/>\n")


# --- traversal ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/kk/../../secret.txt",
        "/kk/..%2f..%2fsecret.txt",
        "/kk/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/..\\secret.txt",
        "/..%5csecret.txt",
        "/%00/../secret.txt",
        "//../secret.txt",
        "/./../secret.txt",
        "../secret.txt",
        "secret.txt",
    ],
)
def test_traversal_never_escapes_root(srv: Running, target: str) -> None:
    # Control: the raw helper does fetch a real file, so a pass below is not a broken helper.
    assert raw_get(srv.port, "/kk/atom.xml") == (200, b"<feed/>\n")
    status, body = raw_get(srv.port, target)
    assert SECRET.encode() not in body
    assert status in (400, 404)


def test_absolute_filesystem_path_is_not_served(srv: Running) -> None:
    secret = srv.root.parent / "secret.txt"
    status, body = raw_get(srv.port, str(secret))  # "/tmp/.../secret.txt", relative to root
    assert status == 404
    assert SECRET.encode() not in body


def test_symlink_out_of_root_is_refused(srv: Running) -> None:
    (srv.root / "leak.txt").symlink_to(srv.root.parent / "secret.txt")
    (srv.root / "leakdir").symlink_to(srv.root.parent)
    (srv.root / "inner.xml").symlink_to(srv.root / "kk" / "atom.xml")
    for path in ("/leak.txt", "/leakdir/secret.txt"):
        r = srv.client.get(path)
        assert r.status_code == 404
        assert SECRET not in r.text
    # A symlink that stays inside root is fine: the check is containment, not "no links".
    assert srv.client.get("/inner.xml").text == "<feed/>\n"


def test_a_folder_swapped_for_a_symlink_out_of_root_after_it_was_served_is_refused(
    srv: Running,
) -> None:
    # The server remembers where a hot path resolved to; that memory must never outlive the
    # containment check when a folder on the way is replaced by a link leading outside.
    outside = srv.root.parent / "outside"
    outside.mkdir()
    (outside / "atom.xml").write_text(SECRET, encoding="utf-8")
    assert srv.client.get("/kk/atom.xml").text == "<feed/>\n"
    assert srv.client.get("/kk/atom.xml").text == "<feed/>\n"  # now remembered
    (srv.root / "kk").rename(srv.root / "kk-before")
    (srv.root / "kk").symlink_to(outside)
    r = srv.client.get("/kk/atom.xml")
    assert r.status_code == 404 and SECRET not in r.text
    # And back: the real folder is served again at once.
    (srv.root / "kk").unlink()
    (srv.root / "kk-before").rename(srv.root / "kk")
    assert srv.client.get("/kk/atom.xml").text == "<feed/>\n"


# --- freshness ------------------------------------------------------------------------------


def test_rewritten_file_is_served_fresh(srv: Running) -> None:
    path = srv.root / "kk" / "feed.json"
    first = srv.client.get("/kk/feed.json")
    assert first.text == '{"version": "1.1"}\n'
    assert srv.client.get("/kk/feed.json").headers["etag"] == first.headers["etag"]  # cached
    # Same size on purpose, and an explicit mtime step so coarse filesystem clocks cannot
    # leave the (mtime_ns, size) cache key unchanged.
    path.write_text('{"version": "1.2"}\n', encoding="utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
    second = srv.client.get("/kk/feed.json")
    assert second.text == '{"version": "1.2"}\n'
    assert second.headers["etag"] != first.headers["etag"]
    stale = srv.client.get("/kk/feed.json", headers={"If-None-Match": first.headers["etag"]})
    assert stale.status_code == 200


def test_new_file_is_picked_up_at_once(srv: Running) -> None:
    assert srv.client.get("/zh/rss.xml").status_code == 404
    (srv.root / "zh").mkdir()
    (srv.root / "zh" / "rss.xml").write_text("<rss/>\n", encoding="utf-8")
    assert srv.client.get("/zh/rss.xml").text == "<rss/>\n"


# --- health ---------------------------------------------------------------------------------


def test_healthz_default(srv: Running) -> None:
    r = srv.client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"ok": True}


def test_healthz_follows_callable(start: Callable[..., Running]) -> None:
    state: dict[str, Any] = {"ok": True, "last_publish": "2024-05-01T00:00:00Z"}
    running = start(health=lambda: dict(state))
    r = running.client.get("/healthz")
    assert (r.status_code, r.json()) == (200, state)
    state["ok"] = False
    r = running.client.get("/healthz")
    assert r.status_code == 503
    assert r.json()["ok"] is False


def test_healthz_failure_is_503_without_trace(
    start: Callable[..., Running], caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("database exploded at /secret/path")

    running = start(health=broken)
    r = running.client.get("/healthz")
    assert r.status_code == 503
    assert "Traceback" not in r.text and "exploded" not in r.text
    assert "health check failed" in caplog.text


def test_a_withdrawn_story_s_page_is_gone_behind_nginx_as_from_the_built_in_server(
    srv: Running, tmp_path: Path
) -> None:
    """w410: behind deploy/nginx.conf a withdrawn story's page answered 200 (nginx cannot read
    the notice's mark). With the notice's copy under withdrawn/, both servers answer 410 with
    the notice, as a page (media type, caching, CORS); a live story's page is 200; the copies
    are never served at their own URL."""
    from datetime import UTC, datetime

    from syndication.publish.site import withdrawn_page

    when = datetime(2025, 5, 2, tzinfo=UTC)
    notice = withdrawn_page(edition="kk", when=when, reason="Legal request", home_title="News")
    for path in ("kk/articles/gone.html", "withdrawn/kk/articles/gone.html"):
        (srv.root / path).parent.mkdir(parents=True, exist_ok=True)
        (srv.root / path).write_bytes(notice)
    live = (srv.root / "kk" / "articles" / "a-1.html").read_bytes()
    with nginx_serving(srv.root, tmp_path / "nginx") as base:
        for server in (base, srv.base):
            gone = httpx.get(f"{server}/kk/articles/gone.html")
            assert (gone.status_code, gone.content) == (410, notice), server
            assert gone.headers["content-type"] == "text/html; charset=utf-8", server
            assert gone.headers["cache-control"] == "public, max-age=300", server
            assert gone.headers["access-control-allow-origin"] == "*", server
            held = {"If-None-Match": gone.headers.get("etag", '"x"'), "If-Modified-Since":
                    formatdate(time.time() + 60, usegmt=True)}  # fmt: skip
            again = httpx.get(f"{server}/kk/articles/gone.html", headers=held)
            assert (again.status_code, again.content) == (410, notice), server
            shown = httpx.get(f"{server}/kk/articles/a-1.html")
            assert (shown.status_code, shown.content) == (200, live), server
            for path in ("/withdrawn/kk/articles/gone.html", "/withdrawn/kk/articles/",
                         "/withdrawn/", "/withdrawn"):  # fmt: skip
                hidden = httpx.get(f"{server}{path}")
                assert hidden.status_code == 404, (server, path)
                assert b"Legal request" not in hidden.content, (server, path)


def test_withdrawn_pages_answer_gone_and_closed_archives_are_cached_long(srv: Running) -> None:
    """The publisher's own notice page answers 410 Gone (with its notice, whatever the client
    holds); a closed archive document (it has a next-archive link) is cacheable for a day, the
    open one and the current feed for the usual five minutes."""
    from datetime import UTC, datetime

    from syndication.publish.site import withdrawn_page
    from syndication.render import Feed, render_atom, render_json

    when = datetime(2025, 5, 2, tzinfo=UTC)
    notice = withdrawn_page(edition="en", when=when, reason="Legal request", home_title="News")
    (srv.root / "kk" / "articles" / "gone.html").write_bytes(notice)
    gone = srv.client.get("/kk/articles/gone.html")
    assert gone.status_code == 410 and "Legal request" in gone.text
    again = srv.client.get(
        "/kk/articles/gone.html", headers={"If-None-Match": gone.headers["etag"]}
    )
    assert again.status_code == 410
    assert srv.client.get("/kk/articles/a-1.html").status_code == 200

    def archive(k: int, closed: bool) -> Feed:
        urls = {kind: f"https://x/kk/archive/{k + 2}/{kind}" for kind in ("rss", "atom", "json")}
        links = (("next-archive", urls),) if closed else ()
        return Feed(edition="kk", id="tag:x,2025:feed/kk/", title="T", description="D",
                    home="https://x/kk/", self_urls=urls, items=(), archive=True,
                    archive_links=(("current", urls), *links))  # fmt: skip

    for k, closed in ((0, True), (1, False)):
        folder = srv.root / "kk" / "archive" / str(k + 1)
        folder.mkdir(parents=True)
        (folder / "atom.xml").write_bytes(render_atom(archive(k, closed)))
        (folder / "feed.json").write_bytes(render_json(archive(k, closed)))
    for name in ("atom.xml", "feed.json"):
        closed = srv.client.get(f"/kk/archive/1/{name}")
        assert closed.status_code == 200 and closed.headers["cache-control"] == (
            "public, max-age=86400"
        ), name
        still_open = srv.client.get(f"/kk/archive/2/{name}")
        assert still_open.headers["cache-control"] == "public, max-age=300", name
    assert srv.client.get("/kk/rss.xml").headers["cache-control"] == "public, max-age=300"
