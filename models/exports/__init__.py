"""Exports of the console's lists: which lists can be exported (:mod:`.kinds`), the read
query behind each, narrowed by the same filter code as its page (:mod:`.queries`), and
the exports too large for a web request, run later as jobs (:mod:`.jobs`).

The files themselves are written in ``scheduler/exports/``: ``models/`` does no file I/O."""
