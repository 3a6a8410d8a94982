"""e2e fixtures: the built site served on 127.0.0.1, and Debian's Chromium driven by Playwright
(never a downloaded browser). Screenshots go to e2e/artifacts/."""
import functools
import http.server
import shutil
import socketserver
import sys
import threading
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
from e2e_paths import ARTIFACTS  # noqa: E402,F401  (screenshots)
from e2e_support import wait_ready
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
sys.path.insert(0, str(ROOT / "tests"))


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def site_url():
    sys.path.insert(0, str(ROOT / "build"))
    import build_site

    dist = build_site.build()
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(dist)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: run build/setup.sh (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, site_url):
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context()
    pg = context.new_page()
    errors = []
    pg.on("pageerror", lambda err: errors.append(str(err)))
    pg.goto(site_url)
    wait_ready(pg)
    yield pg
    assert not errors, errors
    context.close()
