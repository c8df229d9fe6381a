"""The chat simulator: a WeChat-like page for trying the bot locally (``aixiang demo``).

Every message the page sends takes the real path: ``sending`` builds the delivery WeChat's
servers would send (``deliveries``: signed, and AES-encrypted in safe mode), POSTs it over
HTTP to this server's own ``/wechat`` and decodes the passive reply, so what the page shows
is what a resident would get, rejections included. ``thread`` rebuilds the conversation
from what is stored (the messages and replies from the database, the ``pushes`` from the
fake WeChat API's call log), so a reload or a restarted demo shows it whole, in order, at
the simulated times; the page polls with a cursor of stored numbers, which a restart keeps.
``page`` serves the menu, villages and residents; ``clock_api`` moves the demo's clock;
``blueprint`` names every route and installs them (``install_simulator``).
"""
