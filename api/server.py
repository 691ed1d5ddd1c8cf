"""Running the app under uvicorn: on a host and port (``portrisk serve``) or on a bound socket (tests)."""

from __future__ import annotations

import socket

import uvicorn
from fastapi import FastAPI


def make_server(app: FastAPI, host: str, port: int) -> uvicorn.Server:
    """A uvicorn server for ``app``; logging stays with portrisk's configuration."""
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=False,  # the audit log and metrics cover access
        server_header=False, timeout_graceful_shutdown=10, lifespan="on")
    return uvicorn.Server(config)


def bind_free_port(host: str = "127.0.0.1") -> socket.socket:
    """A listening socket on a free port (bound before the server starts, so no other process can take it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(128)
    return sock
