"""Needs residents raise, their status history and photos.

One set of rules serves the chat, the staff CLI and the console; callers import from the
module that owns a name: ``tables`` (tables, statuses, the transition table), ``errors``
(refusals), ``queries`` (reading), ``submission`` (a resident's new need),
``transitions`` (staff moves), ``erasure`` (delete my data), ``demand`` (the count of
residents kept on a need), ``photos`` (the media sweep), ``notices`` (what is pushed). A
person's mistake raises :class:`models.needs.errors.NeedError` with one sentence and
changes nothing.

The tables are imported here so that ``Base.metadata`` knows them whichever module a
caller imports first.
"""

from models.needs import tables as tables
