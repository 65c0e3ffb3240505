"""Serving a fake's request handler on 127.0.0.1 in a daemon thread, and stopping it."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve(
    handler: type[BaseHTTPRequestHandler],
    port: int = 0,
    server_class: type[ThreadingHTTPServer] = ThreadingHTTPServer,
) -> ThreadingHTTPServer:
    """Serve ``handler`` on 127.0.0.1 (on a free port unless told), in a daemon thread."""
    server = server_class(("127.0.0.1", port), handler)
    # A test that leaves a request hanging must not keep the interpreter from exiting.
    server.daemon_threads = True
    # A short poll so that stopping does not wait half a second per fake.
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


def stop_serving(server: ThreadingHTTPServer | None) -> None:
    """Stop serving and close the socket; nothing to do for a fake that never started."""
    if server is not None:
        server.shutdown()
        server.server_close()
