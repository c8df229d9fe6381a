"""The fake's HTTP face: WeChat's endpoints under /cgi-bin/, controls under /_fake/."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from bot.wechat.fake_api.endpoints import answer
from bot.wechat.fake_api.faults import Fault
from bot.wechat.fake_api.replies import Binary
from bot.wechat.fake_api.state import FakeWeChat

API_PREFIX = "/cgi-bin/"
# One request may add at most this much to the call log; a bigger body is refused (413).
MAX_BODY_BYTES = 1024 * 1024


def _json(payload: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(payload, ensure_ascii=False), status, content_type="application/json"
    )


def create_fake_app(fake: FakeWeChat) -> Flask:
    """The HTTP face of ``fake``: WeChat's endpoints under /cgi-bin/, controls under /_fake/."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge) -> Response:
        return _json({"errcode": 47001, "errmsg": f"body over {MAX_BODY_BYTES} bytes"}, 413)

    @app.route(f"{API_PREFIX}<path:endpoint>", methods=["GET", "POST"])
    def api(endpoint: str) -> Response:
        query = request.args.to_dict()
        reply = answer(fake, endpoint, request.method, query, request.get_data())
        if isinstance(reply.payload, Binary):
            return Response(
                reply.payload.content, reply.status, content_type=reply.payload.content_type
            )
        if isinstance(reply.payload, str):
            return Response(reply.payload, reply.status, content_type="text/plain")
        return _json(reply.payload, reply.status)

    @app.get("/_fake/calls")
    def list_calls() -> Response:
        since = request.args.get("since", "0")
        if not since.isdecimal():
            return _json({"error": "since must be a call's seq number"}, 400)
        return _json(fake.calls(request.args.get("endpoint"), int(since)))

    @app.delete("/_fake/calls")
    def clear_calls() -> Response:
        return _json({"cleared": fake.clear_calls()})

    @app.get("/_fake/faults")
    def list_faults() -> Response:
        return _json(fake.faults())

    @app.post("/_fake/faults")
    def add_fault() -> Response:
        try:
            fault = Fault.from_json(request.get_json(silent=True))
        except ValueError as exc:
            return _json({"error": str(exc)}, 400)
        fake.add_fault(fault)
        return _json(asdict(fault), 201)

    @app.delete("/_fake/faults")
    def clear_faults() -> Response:
        fake.clear_faults()
        return _json({"cleared": True})

    @app.post("/_fake/expire_tokens")
    def expire_tokens() -> Response:
        return _json({"expired": fake.expire_tokens()})

    return app
