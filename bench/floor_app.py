"""The webhook benchmark's floor: the least any WeChat endpoint must do per message.

It checks the signature, parses the XML and echoes the text back, under gunicorn with the
webhook's own options (bot.gunicorn_app.server_options), so the gap between it and the
real app is what storing, deduping and routing a message costs, not the HTTP stack.

Run by bench/webhook.py: ``python bench/floor_app.py --port P --workers 2`` with the
token in ``AIXIANG_WECHAT_TOKEN``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from flask import Flask, Response, request

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.gunicorn_app import FlaskServer, server_options
from bot.protocol import Rejection, check_signature, parse_xml, render_text_reply


def create_floor_app(token: str) -> Flask:
    app = Flask(__name__)

    @app.post("/wechat")
    def echo() -> Response:
        args = request.args
        try:
            check_signature(
                (args.get("timestamp", ""), args.get("nonce", "")),
                token,
                args.get("signature", ""),
                "signature",
            )
            fields = parse_xml(request.get_data())
        except Rejection as rejection:
            return Response(rejection.reason, status=rejection.status, mimetype="text/plain")
        xml = render_text_reply(fields, fields.get("Content", ""))
        return Response(xml, mimetype="application/xml")

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    token = os.environ.get("AIXIANG_WECHAT_TOKEN", "")
    if not token:
        sys.exit("floor_app: set AIXIANG_WECHAT_TOKEN")
    FlaskServer(
        lambda: create_floor_app(token), server_options(args.host, args.port, args.workers)
    ).run()


if __name__ == "__main__":
    main()
