"""A fake of WeChat's Official Account API, served over real HTTP.

Tests, the local demo and the benchmarks talk to this instead of api.weixin.qq.com, so the
project's one WeChat client is exercised through its real HTTP stack (timeouts, JSON,
token handling) without a network or an account. It imitates the behaviour the project
relies on rather than all of WeChat: tokens that expire and replace each other, errcodes
with WeChat's texts, and the endpoints the bot calls.

Every call is recorded in memory and failures can be scheduled, both over HTTP under
``/_fake/``, so a test, a benchmark or the demo's chat page in another process can watch
and disturb it. The hot path is a few dictionary operations under one lock: no disk,
unless a ``call_log`` file is given (the demo's, so its chat page still shows the pushes
after a restart), where each answered call is appended as a line of JSON.

``server`` runs it on a port, ``app`` is its HTTP face, ``endpoints`` routes each call
(``call_log`` records it, ``faults`` may disturb it) to the module of its API area
(``tokens``, ``messages``, ``tags``, ``qrcodes``, ``menus``, ``media``) over the account's
``state``; ``replies`` and ``images`` are what it answers with.
"""
