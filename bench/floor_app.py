"""The webhook benchmark's floors: the least a WeChat endpoint must do per message.

The floor checks the signature, parses the XML and echoes the text back, under gunicorn
with the webhook's own options (bot.gunicorn_app.server_options), so the gap between it
and the real app is what storing, deduping and routing a message costs, not the HTTP
stack.

With ``--must-store`` it also does the least issue #2 asks of every delivery, each
step as one round trip over a connection its thread keeps, with no ORM and no routing:
claim the delivery in Redis (SET NX), record the resident's interaction and store the
message with its reply durably in PostgreSQL (one autocommitted statement), and keep
the reply in Redis. No design that stores each message before answering it can beat it,
so it tells how much of the gap to the floor any code could close.

Run by bench/webhook.py: ``python bench/floor_app.py --port P --workers 2 [--must-store]``
with the token in ``AIXIANG_WECHAT_TOKEN`` (and, for ``--must-store``,
``AIXIANG_DATABASE_URL`` and ``AIXIANG_REDIS_URL``).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

import psycopg
import redis
from flask import Flask, Response, request
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.gunicorn_app import FlaskServer, server_options
from bot.wechat.protocol import Rejection, check_signature, dedupe_key, parse_xml, render_text_reply
from models.base import utcnow

# The resident's interaction and the message with its reply, in one durable statement.
STORE = """
WITH sender AS (
    INSERT INTO resident (openid, subscribed, subscribed_at, created_at, broadcast_opt_out,
                          last_interaction_at, last_interaction_kind)
    VALUES (%(openid)s, true, %(now)s, %(now)s, false, %(now)s, 'message')
    ON CONFLICT (openid) DO UPDATE
        SET last_interaction_at = EXCLUDED.last_interaction_at,
            last_interaction_kind = EXCLUDED.last_interaction_kind
    RETURNING id
)
INSERT INTO inbound_message (resident_id, dedupe_key, msg_id, msg_type, content, reply,
                             received_at)
SELECT id, %(key)s, %(msg_id)s, %(msg_type)s, %(content)s, %(reply)s, %(now)s FROM sender
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING id
"""
CLAIM_TTL_S = 10
REPLY_TTL_S = 60

Store = Callable[[Mapping[str, str], str], None]


def create_floor_app(token: str, store: Store | None = None) -> Flask:
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
        reply = fields.get("Content", "")
        if store is not None:
            store(fields, reply)
        xml = render_text_reply(fields, reply)
        return Response(xml, mimetype="application/xml")

    return app


def must_store(database_url: str, redis_url: str) -> Store:
    """Claim, store and cache each delivery, on connections each thread opens once."""
    conninfo = make_url(database_url).set(drivername="postgresql")
    dsn = conninfo.render_as_string(hide_password=False)
    pool = redis.ConnectionPool.from_url(redis_url)
    local = threading.local()

    def connections() -> tuple[psycopg.Connection[tuple[int]], redis.Redis]:
        if not hasattr(local, "database"):
            local.database = psycopg.connect(dsn, autocommit=True)
            local.redis = redis.Redis(connection_pool=pool, single_connection_client=True)
        return local.database, local.redis

    def store(fields: Mapping[str, str], reply: str) -> None:
        database, cache = connections()
        key = dedupe_key(fields)
        cache.set(f"floor:claim:{key}", "1", nx=True, ex=CLAIM_TTL_S)
        values = {
            "openid": fields["FromUserName"],
            "now": utcnow(),
            "key": key,
            "msg_id": int(fields["MsgId"]),
            "msg_type": fields["MsgType"],
            "content": fields.get("Content"),
            "reply": reply,
        }
        database.execute(STORE, values, prepare=True).fetchone()
        cache.set(f"floor:reply:{key}", reply, ex=REPLY_TTL_S)

    return store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--must-store", action="store_true", help="also claim, store and cache each delivery"
    )
    args = parser.parse_args()
    token = os.environ.get("AIXIANG_WECHAT_TOKEN", "")
    if not token:
        sys.exit("floor_app: set AIXIANG_WECHAT_TOKEN")
    store = None
    if args.must_store:
        database_url = os.environ.get("AIXIANG_DATABASE_URL", "")
        redis_url = os.environ.get("AIXIANG_REDIS_URL", "")
        if not database_url or not redis_url:
            sys.exit("floor_app: --must-store needs AIXIANG_DATABASE_URL and AIXIANG_REDIS_URL")
        store = must_store(database_url, redis_url)
    FlaskServer(
        lambda: create_floor_app(token, store),
        server_options(args.host, args.port, args.workers),
    ).run()


if __name__ == "__main__":
    main()
