"""The demo's background work: the outbox worker, the scheduler's jobs and the spool's
drain, in threads.

Production runs `aixiang worker` and `aixiang scheduler` as processes; the demo is one
process on the in-process Redis, so it runs the same Worker and the same jobs in threads.
The jobs run every few seconds rather than every minute, so that moving the demo clock
forward shows a reminder within moments. The demo answers WeChat as `aixiang serve` does,
so it drains the spool as `aixiang serve` does (bot/drain.py): deliveries an earlier run
or a database outage left there are handled, their replies sent as pushes.
"""

from __future__ import annotations

import threading
from types import TracebackType

from bot.drain import Drainer
from bot.webhook_services import WebhookServices
from bot.wechat.client import build_wechat_client
from scheduler.jobs import JobContext, run_all_once
from scheduler.worker import Worker

JOBS_EVERY_S = 3.0


class DemoBackground:
    def __init__(self, services: WebhookServices) -> None:
        self._client = build_wechat_client(services.config, services.redis)
        self._worker = Worker(services, self._client)
        self._jobs = JobContext(services=services, client=self._client)
        self._drainer = Drainer(services)
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._deliver, name="demo-worker", daemon=True),
            threading.Thread(target=self._tick, name="demo-scheduler", daemon=True),
        ]

    def _deliver(self) -> None:
        self._worker.run_forever(self._stop, idle_s=1.0)

    def _tick(self) -> None:
        while not self._stop.is_set():
            run_all_once(self._jobs)
            self._stop.wait(JOBS_EVERY_S)

    def __enter__(self) -> DemoBackground:
        for thread in self._threads:
            thread.start()
        self._drainer.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._drainer.stop()
        for thread in self._threads:
            thread.join(timeout=10)
        self._worker.close()
        self._client.close()
