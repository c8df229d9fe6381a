"""``aixiang events``: staff publish events, follow sign-ups and check people in.

Every change goes through models/events/, under the same event lock the chat uses, so
a staff edit and residents signing up at that moment cannot overbook. Times are typed
and shown in the configured time zone and stored in UTC. A mistake (past start, end
before start, capacity below 1, unknown id or partner) is one line, exit 2, and leaves
the database untouched.

``group`` assembles the commands: ``changes`` (create, update, publish, cancel),
``listing`` (list), ``roster`` (roster and its CSV), ``checkin`` (checkin) and ``qr``
(the check-in QR code from WeChat); ``options`` reads their arguments, ``records`` is an
event as the commands print it.
"""
