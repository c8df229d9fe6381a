"""Pushes to people: the outbox and its vocabularies, the registry of push kinds, and the
policy that decides whether a queued push is still worth sending.

- :mod:`models.push.vocabulary`: statuses, channels and delivery outcomes (StrEnums);
- :mod:`models.push.outbox`: the outbox table;
- :mod:`models.push.rows`: the one row builder every enqueuer uses;
- :mod:`models.push.claims` and :mod:`models.push.outcomes`: claiming due rows under a
  lease, and recording what became of them while the lease holds;
- :mod:`models.push.stale`: marking queued rows stale when their cause changes;
- :mod:`models.push.upkeep`: expiring rows past their validity, retrying dead ones, counts;
- :mod:`models.push.pauses`: rows put off by a quota pause, and their release on resume;
- :mod:`models.push.consents`: residents' one-time consents to subscription notices;
- :mod:`models.push.registry`: the kinds (:class:`PushKind`) and what each carries; it
  imports no other models module, so every domain module names its kinds through it;
- :mod:`models.push.stale_checks`: the domain's checks of a kind's queued rows just
  before sending, in one explicit list that only the policy imports;
- :mod:`models.push.policy`: "should this row still be sent?", for the worker and for
  pushes held for the resident's next message.
"""
