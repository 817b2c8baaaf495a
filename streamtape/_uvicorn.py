"""Run an ASGI app of :mod:`streamtape.server` under uvicorn (the optional ``serve`` extra).

The socket is bound here, before uvicorn starts, so port 0 gives a free port whose number is
known at once; binding beyond loopback is refused unless the caller allows it.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from streamtape.errors import StreamtapeError

__all__ = ["bind", "is_loopback", "serve_forever", "serve_in_thread", "uvicorn_server"]


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str = "127.0.0.1", port: int = 0, *, allow_remote: bool = False) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (0: a free port)."""
    if not allow_remote and not is_loopback(host):
        raise StreamtapeError(
            f"refusing to listen on {host}: it is not a loopback address, so other machines "
            "could reach the recordings; pass --allow-remote (allow_remote=True) to do it anyway"
        )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.setblocking(False)
    return sock


def url_of(sock: socket.socket) -> str:
    """``http://host:port`` of a bound socket."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def uvicorn_server(app: Any) -> Any:
    """A quiet ``uvicorn.Server`` for ``app``, or a clear error without uvicorn."""
    try:
        import uvicorn
    except ImportError:
        raise StreamtapeError(
            "serving over HTTP needs uvicorn: pip install 'streamtape[serve]'"
        ) from None
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="on",  # the proxy closes its upstream connections at shutdown
        access_log=False,
        server_header=False,  # the recorded head says which server it was
        date_header=False,
    )
    return uvicorn.Server(config)


def serve_forever(server: Any, sock: socket.socket) -> None:
    """Serve on ``sock`` in this thread until ``server.should_exit`` or Ctrl-C."""
    server.run(sockets=[sock])


@contextmanager
def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` on a loopback port from a background thread; yields its ``http://`` URL."""
    sock = bind(host, port)
    server = uvicorn_server(app)
    thread = threading.Thread(
        target=serve_forever, args=(server, sock), name="streamtape-serve", daemon=True
    )
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise StreamtapeError("the streamtape server stopped while starting")
            thread.join(0.005)
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
