"""The drain: deliveries the spool kept are handled once the database answers again.

A thread in each webhook worker, not a separate process: the spool is a journal on the
host's own disk (bot/spool.py), so only a process on that host can read it, and the
webhook is the one process sure to run there. While the database is down the thread
probes it every ``PROBE_INTERVAL_S``; the first probe that succeeds reopens the way for
new deliveries (so the webhook recovers well within 2 s of the database's return) and the
spool is drained behind them, each delivery handled and its reply queued as a push.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bot import inbound
from bot.outage import unreachable
from bot.safe_log import log_failure
from bot.webhook_services import WebhookServices

log = logging.getLogger(__name__)

PROBE_INTERVAL_S = 0.25
DRAIN_INTERVAL_S = 0.5


class Drainer:
    def __init__(self, services: WebhookServices) -> None:
        self._services = services
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Probe the database if it was down, then drain the spool; the deliveries
        handled. A drain the database breaks off closes the gate again."""
        services = self._services
        if services.gate.down:
            if not self._database_answers():
                return 0
            services.gate.open()
            log.warning("database answers again; draining the spool")
        try:
            handled = services.spool.drain(
                lambda spooled: inbound.handle_spooled(services, spooled)
            )
        except Exception as error:
            if unreachable(error):
                services.gate.close()
            log_failure(log, "spool drain stopped; it resumes at the next round", error)
            return 0
        if handled:
            log.warning("drained %d spooled deliveries", handled)
        return handled

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="spool-drain", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stopped.is_set():
            self.run_once()
            down = self._services.gate.down
            self._stopped.wait(PROBE_INTERVAL_S if down else DRAIN_INTERVAL_S)

    def _database_answers(self) -> bool:
        try:
            with self._services.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True
