"""The impact dashboard's figures: what the club did in a period, narrowed to a village,
an event tag or a partner's own organisation.

``period`` turns a month, quarter, year or custom dates into UTC bounds; ``scope`` holds
what the figures are narrowed to; ``events``, ``needs``, ``residents`` and
``broadcasts`` read the figures; ``headline`` gathers the few a public page may show;
``publication`` is the admin's switch for that page. Each figure counts the way the
reporting views do (``needs_overview``, ``event_summary``), and tests hold them equal.
"""
