"""Staff broadcasts: who they reach, what they say, and how they become outbox rows.

A broadcast is recorded first (records.py ``Broadcast``), then fanned out (fanout.py):
one outbox row per recipient, or for ``mass`` broadcasts one row per mass-send request. The
audience is resolved when the broadcast goes out, so a scheduled broadcast reaches the
residents who match at its time, and a resident who unfollowed (``subscribed`` false) or
sent 退订 (``broadcast_opt_out``) is never written. One who sends 退订 after fan-out gets
none of the rows still queued either: the worker, the next reply and mass sends check the
opt-out again right before delivery (sending.py ``mass_send_now``). Reminders and need
updates are other kinds of push and do not look at the opt-out.

Mass sends spend WeChat quotas that a retry or a second staff member could overspend, so
they are checked before anything is written, and refused with the reason:

- a subscription account may send 1 mass broadcast a day (local day);
- a service account may reach each follower with at most 4 mass broadcasts a month;
  deliveries are counted per resident in ``broadcast_recipient``;
- at most 60 mass-send requests a minute.

How a mass send reaches its audience: everyone, when nobody opted out, is one ``sendall``
to all followers. Anyone else is, on a service account, openid lists per language
(``mass/send``); on a subscription account, which WeChat allows no openid lists, a WeChat
user tag holding exactly the audience and one ``sendall`` to that tag. The tag is one per
broadcast, named by mass.py ``mass_tag_name``; the worker fills it right before sending
(scheduler/mass_tags.py), since models/ never talks to WeChat.
"""
