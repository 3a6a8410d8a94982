"""Serves this example as a web app embedding agentdb would be: the page from one origin, the
bundle (build/build_bundle.py's dist/agentdb-web-<version>/) from another that sends CORS
headers, as a CDN does. Prints the page's URL; Ctrl-C stops both.

    python build/build_bundle.py                     # once: dist/agentdb-web-<version>/
    python examples/browser-import/serve.py          # then open the URL it prints

--same-origin serves the bundle under the page's origin instead (/vendor/agentdb-web/, as an
app that copied it into its own files).
"""
import argparse
import functools
import http.server
import pathlib
import socketserver
import sys
import threading

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VENDOR = "/vendor/agentdb-web/"       # where --same-origin puts the bundle


class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves folders under URL prefixes (mounts: prefix -> folder, longest prefix first), with
    Access-Control-Allow-Origin: * when cors is set."""

    def __init__(self, *args, mounts, cors=False, **kwargs):
        self.mounts, self.cors = sorted(mounts.items(), key=lambda m: -len(m[0])), cors
        super().__init__(*args, directory=str(self.mounts[-1][1]), **kwargs)

    def translate_path(self, path):
        for prefix, folder in self.mounts:
            if path.startswith(prefix):
                self.directory = str(folder)
                return super().translate_path("/" + path[len(prefix):])
        return super().translate_path(path)

    def end_headers(self):
        if self.cors:
            self.send_header("Access-Control-Allow-Origin", "*")
        super().end_headers()

    def log_message(self, *args):
        pass


def serve(mounts, cors=False, port=0):
    """Starts a server on 127.0.0.1 (a free port unless given) in a daemon thread; the server
    (its URL: url_of(server))."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", port), functools.partial(Handler, mounts=mounts, cors=cors))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def url_of(server):
    return f"http://127.0.0.1:{server.server_address[1]}/"


def latest_bundle():
    """The newest dist/agentdb-web-*/ build/build_bundle.py wrote."""
    found = sorted((ROOT / "dist").glob("agentdb-web-*/package.json"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise SystemExit("no bundle in dist/: run python build/build_bundle.py first")
    return found[-1].parent


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=pathlib.Path, help="the bundle's folder (default: the newest in dist/)")
    parser.add_argument("--port", type=int, default=8100, help="the page's port (the bundle's: the next one)")
    parser.add_argument("--same-origin", action="store_true", help=f"serve the bundle under {VENDOR} of the page's origin")
    args = parser.parse_args(argv)
    bundle = (args.bundle or latest_bundle()).resolve()
    if args.same_origin:
        page = serve({"/": HERE, VENDOR: bundle}, port=args.port)
        url = f"{url_of(page)}?bundle={VENDOR}agentdb.js"
    else:
        page = serve({"/": HERE}, port=args.port)
        cdn = serve({"/": bundle.parent}, cors=True, port=args.port + 1)
        url = f"{url_of(page)}?bundle={url_of(cdn)}{bundle.name}/agentdb.js"
    print(f"the example is served at {url}  (Ctrl-C stops it)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
