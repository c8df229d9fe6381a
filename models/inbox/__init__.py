"""The residents' inbox: conversations a resident opens by leaving a message for staff.

Callers import from the module that owns a name: ``tables`` (conversations, their
messages, statuses), ``errors`` (refusals), ``operations`` (what residents and staff
change), ``queries`` (what the console reads), ``notices`` (the staff answer's push). A
person's mistake raises :class:`models.inbox.errors.InboxError` and changes nothing.

The tables are imported here so that ``Base.metadata`` knows them whichever module a
caller imports first.
"""

from models.inbox import tables as tables
