"""The conversation: routing and replies. Imports models/ only; no Flask, no wechatpy."""

from __future__ import annotations

from handlers import basic, events, needs, pushes
from handlers.i18n import Catalog
from handlers.router import Router

FEATURES = (basic, needs, events, pushes)


def build_router() -> Router:
    """Assemble every feature's texts and handlers into one router."""
    catalog = Catalog()
    router = Router(catalog)
    for feature in FEATURES:
        catalog.add(feature.TEXTS)
        feature.register(router)
    return router
