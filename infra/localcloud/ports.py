"""Check whether a TCP port on 127.0.0.1 is free before a server of the local cloud binds it."""

from __future__ import annotations

import socket

from infra.localcloud.config import HOST


def is_port_free(port: int) -> bool:
    """Return whether a server could listen on HOST:port now.

    The probe sets SO_REUSEADDR as werkzeug and uvicorn do, so a port held only by closed
    connections in TIME_WAIT counts as free, and a port with a listening socket does not.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True
