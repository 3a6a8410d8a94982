"""A local HTTP server for the browser benchmarks: the built site at /, other folders under
prefixes (a peer's dist files, data, a model), on a free port, in a daemon thread."""
import functools
import http.server
import socketserver
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
