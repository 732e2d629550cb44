"""Fixtures of the data-layer tests: a local HTTP server for the downloads, and guards against real network use."""

from __future__ import annotations

import functools
import threading
import urllib.parse
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest


class _Handler(SimpleHTTPRequestHandler):
    requests: list[str]

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        self.requests.append(self.path)
        super().do_GET()


@pytest.fixture
def server(tmp_path, monkeypatch):
    """(folder served, base URL, list of request paths); stops at teardown or after 60 s, whichever first."""
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    real_urlopen = urllib.request.urlopen

    def guarded_urlopen(req, *args, **kwargs):
        url = req.full_url if isinstance(req, urllib.request.Request) else req
        assert urllib.parse.urlsplit(url).hostname == "127.0.0.1", f"test tried to reach {url}"
        return real_urlopen(req, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", guarded_urlopen)
    www = tmp_path / "www"
    www.mkdir()
    log: list[str] = []
    handler = type("Handler", (_Handler,), {"requests": log})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    timer = threading.Timer(60.0, httpd.shutdown)
    timer.daemon = True
    timer.start()
    try:
        yield www, f"http://127.0.0.1:{httpd.server_address[1]}/", log
    finally:
        timer.cancel()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def no_gdrive(monkeypatch):
    """Fail the test if anything calls torchvision's Google Drive download."""
    from torchvision.datasets import utils as tv_utils

    def forbidden(*args, **kwargs):
        raise AssertionError("Google Drive download called")

    monkeypatch.setattr(tv_utils, "download_file_from_google_drive", forbidden)


