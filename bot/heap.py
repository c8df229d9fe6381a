"""Keep what a long-running process built at start out of the garbage collector's passes.

A process that serves for hours builds most of its objects once: modules, the Flask app,
SQLAlchemy's mappers, the text catalog. CPython's full collection walks every object the
collector tracks, those long-lived ones included, with the GIL held: in a console worker
(about 145,000 of them after the first pages) one pass took 235-315 ms on the shared
2-core machine, during which none of the worker's threads ran. Requests that arrived
meanwhile waited that long, whatever their page (bench/README.md, the console's p99).
Freezing moves what exists now to a generation no collection visits; what is made later
is collected as before.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Collect the garbage of start-up, then exempt everything still alive from later
    collections. Call once, when the process has built what it keeps for its life."""
    gc.collect()
    gc.freeze()
