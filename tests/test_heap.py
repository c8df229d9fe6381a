"""The long-running processes take their start-up objects out of the collector's passes."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from flask import Flask

from bot.gunicorn_app import FlaskServer, server_options


@pytest.fixture
def thawed() -> Iterator[None]:
    """Give the test process its ordinary collector back afterwards."""
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_a_gunicorn_worker_freezes_what_it_built_once_its_app_is_built(thawed: None) -> None:
    built = Flask("heap-test")
    server = FlaskServer(lambda: built, server_options("127.0.0.1", 0, 1))
    assert gc.get_freeze_count() == 0
    assert server.load() is built
    # Everything alive at that point, the app among it, is frozen: no full pass walks it.
    assert gc.get_freeze_count() > 1_000
    assert not any(obj is built for obj in gc.get_objects())
