"""The needs workbench's blueprint, under ``/console/needs``; its pages hang from it in
the modules beside this one."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("needs", __name__, url_prefix="/needs")
