"""A lean stand-in for WeChat's push endpoints, fast enough not to be what bench/push.py measures.

The project's fake (bot/wechat/fake_api/) runs Flask on werkzeug's threaded server and keeps
every call in memory: right for tests, but it answers only a few hundred requests a second
on a small machine, well below the 2,000 pushes/s the push benchmark needs to see. This one
is a single asyncio process with a hand-rolled HTTP/1.1 keep-alive loop and answers only
what the outbox worker calls, the way the fake does:

- ``POST /cgi-bin/stable_token``: the same token for every caller, after checking the app
  id and secret (``force_refresh`` replaces it);
- ``POST /cgi-bin/message/custom/send?access_token=...``: 40001 for an unknown token, 44002
  for a body that is not JSON, 40003 without ``touser``, 40008 for another msgtype than
  text, else ok;

and for the bench, ``GET /_fake/stats``: how many sends arrived, how many distinct
(openid, text) pairs they carried (a push sent twice shows up as a duplicate), and when the
first and last arrived. Anything else is a 404.

    .venv/bin/python bench/lean_wechat.py --port 8090 [--app-id ... --app-secret ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

API_PREFIX = "/cgi-bin/"
TOKEN_TTL_S = 7200
MAX_HEADER_BYTES = 16_384
MAX_BODY_BYTES = 1_048_576
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 413: "Payload Too Large"}


class Counts:
    """What the bench asks about at the end; one process, one event loop, so no locks."""

    def __init__(self, app_id: str, app_secret: str) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.token = f"LEAN_{secrets.token_urlsafe(24)}"
        self.token_calls = 0
        self.sends = 0
        self.refused = 0
        self.pairs: set[tuple[str, str]] = set()
        self.first_send: float | None = None
        self.last_send: float | None = None

    def stats(self) -> dict[str, Any]:
        return {
            "token_calls": self.token_calls,
            "sends": self.sends,
            "refused": self.refused,
            "distinct": len(self.pairs),
            "duplicates": self.sends - self.refused - len(self.pairs),
            "first_send": self.first_send,
            "last_send": self.last_send,
        }

    def answer(self, method: str, target: str, body: bytes) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(target)
        if method == "GET" and parts.path == "/_fake/stats":
            return 200, self.stats()
        if method != "POST" or not parts.path.startswith(API_PREFIX):
            return 404, {"errcode": -1, "errmsg": f"the lean fake has no {method} {parts.path}"}
        endpoint = parts.path[len(API_PREFIX) :]
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None
        if endpoint == "stable_token":
            return 200, self._stable_token(data)
        if endpoint == "message/custom/send":
            query = parse_qs(parts.query)
            return 200, self._custom_send(query.get("access_token", [""])[0], data)
        return 404, {"errcode": -1, "errmsg": f"the lean fake has no endpoint {endpoint}"}

    def _stable_token(self, data: Any) -> dict[str, Any]:
        self.token_calls += 1
        if not isinstance(data, dict) or data.get("grant_type") != "client_credential":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        if data.get("appid") != self.app_id:
            return {"errcode": 40013, "errmsg": "invalid appid"}
        if data.get("secret") != self.app_secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        if data.get("force_refresh") is True:
            self.token = f"LEAN_{secrets.token_urlsafe(24)}"
        return {"access_token": self.token, "expires_in": TOKEN_TTL_S}

    def _custom_send(self, token: str, data: Any) -> dict[str, Any]:
        now = time.time()
        self.sends += 1
        if self.first_send is None:
            self.first_send = now
        self.last_send = now
        refusal = self._refusal(token, data)
        if refusal is not None:
            self.refused += 1
            return refusal
        text = data.get("text")
        content = text.get("content") if isinstance(text, dict) else None
        self.pairs.add((data["touser"], str(content)))
        return {"errcode": 0, "errmsg": "ok"}

    def _refusal(self, token: str, data: Any) -> dict[str, Any] | None:
        if token != self.token:
            return {
                "errcode": 40001,
                "errmsg": "invalid credential, access_token is invalid or not latest",
            }
        if not isinstance(data, dict):
            return {"errcode": 44002, "errmsg": "empty post data"}
        if not isinstance(data.get("touser"), str) or not data["touser"]:
            return {"errcode": 40003, "errmsg": "invalid openid"}
        if data.get("msgtype") != "text":
            return {"errcode": 40008, "errmsg": "invalid message type"}
        return None


class HttpConnection(asyncio.Protocol):
    """One keep-alive connection: requests are answered in order as their bytes arrive."""

    def __init__(self, counts: Counts) -> None:
        self._counts = counts
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while self._answer_one():
            pass

    def _answer_one(self) -> bool:
        """Answer the first complete request in the buffer; False when none is complete."""
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > MAX_HEADER_BYTES:
                self._reply(400, {"errmsg": "headers too long"}, close=True)
            return False
        head = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
        request_line = head[0].split(" ")
        if len(request_line) != 3:
            self._reply(400, {"errmsg": "bad request line"}, close=True)
            return False
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length_text = headers.get("content-length", "0")
        if not length_text.isdigit():
            self._reply(400, {"errmsg": "bad Content-Length"}, close=True)
            return False
        length = int(length_text)
        if length > MAX_BODY_BYTES:
            self._reply(413, {"errmsg": "body too large"}, close=True)
            return False
        if len(self._buffer) < end + 4 + length:
            return False
        body = bytes(self._buffer[end + 4 : end + 4 + length])
        del self._buffer[: end + 4 + length]
        method, target, _ = request_line
        status, payload = self._counts.answer(method, target, body)
        self._reply(status, payload, close=headers.get("connection", "").lower() == "close")
        return True

    def _reply(self, status: int, payload: dict[str, Any], close: bool = False) -> None:
        assert self._transport is not None
        body = json.dumps(payload, ensure_ascii=False).encode()
        head = (
            f"HTTP/1.1 {status} {REASONS[status]}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"{'Connection: close' if close else 'Connection: keep-alive'}\r\n\r\n"
        )
        self._transport.write(head.encode() + body)
        if close:
            self._buffer.clear()
            self._transport.close()


async def serve(host: str, port: int, counts: Counts) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: HttpConnection(counts), host, port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--app-id", default="wxbench0000000000")
    parser.add_argument("--app-secret", default="bench-secret")
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.host, args.port, Counts(args.app_id, args.app_secret)))
    except KeyboardInterrupt:
        return


if __name__ == "__main__":
    main()
