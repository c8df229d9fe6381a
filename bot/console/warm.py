"""Work a console worker does once, before it takes its first request.

The console's templates are compiled and its gettext catalogs built on first use, and
both are cached for the worker's life. Left to the first requests, that work lands on
whoever opens a page first after a start, and every thread that asks at the same moment
does it again (the catalog's cache has no lock): with 20 staff opening pages together
against freshly started workers, their first clicks took 450-800 ms instead of 30
(bench/README.md, the console's section). Done here, it is paid before the worker
listens, and it is part of what the worker freezes out of the collector's passes
(bot/heap.py).
"""

from __future__ import annotations

from flask import Flask

from texts.catalog import LANGUAGES, gettext_translations


def warm_console(app: Flask) -> None:
    """Build every language's gettext catalog and compile every template of ``app``."""
    for language in LANGUAGES:
        gettext_translations(language)
    for name in app.jinja_env.list_templates():
        app.jinja_env.get_template(name)
