"""The needs workbench: the queue with its filters and bulk actions (``queue``), a need's
page (``page``) and the changes made from it (``actions``), its photos (``photos``), all
on the blueprint ``routes`` assembles. Every change goes through models.needs.staff, as
the CLI's do; what a partner account sees and changes is scoped in ``common``."""
