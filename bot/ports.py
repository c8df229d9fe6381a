"""Say in one line that a server's port is taken, before any server tries to bind it.

Werkzeug's servers (the demo, the fake WeChat API) would print two lines and exit on
their own, and gunicorn's workers, which bind the webhook's port themselves
(SO_REUSEPORT, bot/gunicorn_app.py), would fail and be restarted forever: neither lets
the command say what is wrong.
"""

from __future__ import annotations

import socket


class PortTaken(Exception):
    """Nothing could listen on the port now; the message names the option and why."""


def ensure_port_free(host: str, port: int, option: str) -> None:
    """Raise PortTaken unless ``host:port`` could be listened on.

    The probe is bound without SO_REUSEPORT, so it fails while anything listens there,
    another ``aixiang serve`` included; like Werkzeug and gunicorn it sets SO_REUSEADDR,
    so a port lingering after a previous run counts as free.
    """
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM
        )[0]
    except OSError as exc:
        raise PortTaken(f"cannot listen on {host}: {exc.strerror or exc}") from None
    with socket.socket(family, kind, protocol) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise PortTaken(f"cannot listen on {option} {port}: {exc.strerror or exc}") from None
