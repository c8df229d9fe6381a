"""What every simulator view reads: the simulator's settings, the app's services, and
the one error a view raises for a request it cannot carry out."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from bot.webhook_services import WebhookServices
from bot.wechat.payloads import WeChatPayloads

SIMULATOR_KEY = "aixiang_simulator"


@dataclass(frozen=True)
class Simulator:
    """What the page needs besides the app's services: how to play WeChat's servers, and
    where the fake WeChat API keeps its call log."""

    payloads: WeChatPayloads
    fake_api_root: str
    http_timeout_s: float = 10.0


class SimulatorError(Exception):
    """A request the simulator cannot carry out; the message is one line for the page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def current_simulator() -> Simulator:
    simulator: Simulator = current_app.extensions[SIMULATOR_KEY]
    return simulator


def current_services() -> WebhookServices:
    services: WebhookServices = current_app.extensions["aixiang"]
    return services
