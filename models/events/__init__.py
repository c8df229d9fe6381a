"""Co-building events: publishing, sign-ups with a waitlist, and check-in.

One module per concern; callers import from the module that owns a name:
``tables`` (tables and their vocabularies), ``errors`` (refusals), ``queries`` (reading),
``staff`` (create, update, publish, cancel), ``signups`` (signing up, cancelling, the
waitlist), ``checkin`` (at the door), ``notices`` (what is pushed to residents).

The tables are imported here so that ``Base.metadata`` knows them whichever module a
caller imports first.
"""

from models.events import tables as tables
