"""A local HTTP server for the browser benchmarks: the built site at /, other folders under
prefixes (a peer's dist files, data, a model), on a free port, in a daemon thread; and
app_page(), the built app open in headless Chromium over it."""
import contextlib
import functools
import http.server
import socketserver
import tempfile
import threading
from pathlib import Path


class Handler(http.server.SimpleHTTPRequestHandler):
    roots = {}      # URL prefix -> folder, set by serve()

    def translate_path(self, path):
        for prefix, directory in self.roots.items():
            if path.startswith(prefix):
                return str(Path(directory) / path[len(prefix):].split("?")[0])
        return super().translate_path(path)

    def log_message(self, *args):
        pass


def serve(dist, roots):
    """(server, its URL) serving dist at / and each {prefix: folder} of roots."""
    Handler.roots = dict(roots)
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(dist)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


@contextlib.contextmanager
def app_page(site, roots=None):
    """The built app (site) served with roots as serve() does, open in headless Chromium with a
    fresh profile (e2e's browser and flags) once it is ready; the browser and the server are
    closed after. Needs e2e/ on sys.path."""
    from playwright.sync_api import sync_playwright

    from conftest import ARGS, CHROMIUM
    from e2e_support import READY

    server, url = serve(site, roots or {})
    try:
        with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
            context = pw.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, args=ARGS)
            try:
                page = context.new_page()
                page.goto(url)
                page.wait_for_function(READY, timeout=120_000)
                yield page
            finally:
                context.close()
    finally:
        server.shutdown()
        server.server_close()
