"""The fake WeChat API on a real port: in a background thread, or in the foreground."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from bot.wechat.fake_api.app import API_PREFIX, create_fake_app
from bot.wechat.fake_api.faults import Fault
from bot.wechat.fake_api.state import FakeWeChat

log = logging.getLogger(__name__)

FAKE_APP_ID = "wxfakeapp0000001"
FAKE_APP_SECRET = "fake-app-secret"
# How often a background server checks for stop(); short, so test teardown is quick.
STOP_POLL_INTERVAL_S = 0.05


class _QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler without its line per request: at benchmark rates the log line
    costs more than the call. Errors are still logged."""

    protocol_version = "HTTP/1.1"  # keep-alive, as clients pool connections to WeChat

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Say nothing about calls that went fine."""


class FakeWeChatServer:
    """The fake WeChat API on a real port, in a background thread (tests, benchmarks) or in
    the foreground (``aixiang fake-wechat``). ``port=0`` picks a free port."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        app_id: str = FAKE_APP_ID,
        app_secret: str = FAKE_APP_SECRET,
        *,
        call_log: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.host = host
        self.port = port
        self.fake = FakeWeChat(app_id, app_secret, call_log, clock)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def app_id(self) -> str:
        return self.fake.app_id

    @property
    def app_secret(self) -> str:
        return self.fake.app_secret

    @property
    def root_url(self) -> str:
        """Where the server listens, e.g. ``http://127.0.0.1:8081`` (controls are under it)."""
        if self._server is None:
            raise RuntimeError("the fake WeChat server is not running; call start() first")
        return f"http://{self.host}:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        """The value for ``wechat.api_base_url``."""
        return f"{self.root_url}{API_PREFIX}"

    def _bind(self) -> BaseWSGIServer:
        server = make_server(
            self.host,
            self.port,
            create_fake_app(self.fake),
            threaded=True,
            request_handler=_QuietRequestHandler,
        )
        self._server = server
        return server

    def start(self) -> FakeWeChatServer:
        server = self._bind()
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": STOP_POLL_INTERVAL_S},
            name="fake-wechat",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (Ctrl-C) or stopped from another thread."""
        server = self._bind()
        log.info("fake WeChat API at %s (app_id %s)", self.base_url, self.app_id)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            log.info("fake WeChat API stopped")
        finally:
            server.server_close()

    def stop(self) -> None:
        if self._server is None:
            return
        self.fake.clear_faults()
        self._server.shutdown()
        if self._thread is not None:
            self._thread.join()
            self._server.server_close()
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeWeChatServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def calls(self, endpoint: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        return self.fake.calls(endpoint, since)

    def add_fault(
        self,
        endpoint: str,
        *,
        errcode: int | None = None,
        delay_s: float = 0.0,
        http_status: int | None = None,
        times: int | None = 1,
        not_json: str | None = None,
    ) -> None:
        """Make ``endpoint``'s next ``times`` calls (None: all until cleared) misbehave."""
        self.fake.add_fault(Fault(endpoint, errcode, delay_s, http_status, times, not_json))

    def expire_tokens(self) -> int:
        return self.fake.expire_tokens()

    def clear(self) -> None:
        """Forget recorded calls, scheduled faults and the clientmsgids of mass sends;
        tokens, tags and the menu stay."""
        self.fake.clear_calls()
        self.fake.clear_faults()
        self.fake.forget_mass_requests()


def serve_fake_wechat(
    host: str = "127.0.0.1",
    port: int = 8081,
    app_id: str = FAKE_APP_ID,
    app_secret: str = FAKE_APP_SECRET,
) -> None:
    """Run the fake WeChat API in the foreground until Ctrl-C (``aixiang fake-wechat``)."""
    FakeWeChatServer(host, port, app_id, app_secret).serve_forever()
