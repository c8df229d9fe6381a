"""The console's signed session cookie, opened only where a browser sends it.

The cookie is scoped to ``/console`` (``SESSION_COOKIE_PATH``), so a request anywhere
else, every WeChat delivery to ``/wechat`` above all, never carries it. Flask would still
open a session for each of them, building a signer over the secret key to find no cookie,
and Flask-Login would look into it after the view: about a tenth of a millisecond of a
delivery's CPU for nothing (bench/README.md). Outside the console the session is Flask's
null session instead, which reads as empty, as it always was there, and refuses writes.
"""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions under the cookie's path; the null session elsewhere."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if not request.path.startswith(self.get_cookie_path(app)):
            return self.make_null_session(app)
        return super().open_session(app, request)
