"""The conversation: routing and replies. Imports models/ and texts/; no Flask, no wechatpy."""

from __future__ import annotations

from handlers import basic, events, inbox, linking, needs, pushes, villages
from handlers.router import Router
from texts.catalog import catalog

FEATURES = (basic, needs, events, pushes, villages, inbox, linking)


def build_router() -> Router:
    """Assemble every feature's handlers into one router that replies from the catalog."""
    router = Router(catalog())
    for feature in FEATURES:
        feature.register(router)
    return router
