"""The simulator's blueprint: the page at ``/`` and its JSON API under ``/sim/``, each
route named here beside the module that answers it."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify

from bot.demo.simulator import clock_api, page, sending, thread
from bot.demo.simulator.context import SIMULATOR_KEY, Simulator, SimulatorError
from bot.wechat.payloads import WeChatPayloads

blueprint = Blueprint("simulator", __name__, static_folder="static", static_url_path="/sim/static")
blueprint.add_url_rule("/sim/api/config", view_func=page.page_config, methods=["GET"])
blueprint.add_url_rule("/sim/api/residents", view_func=page.residents, methods=["GET"])
blueprint.add_url_rule("/sim/api/send", view_func=sending.send, methods=["POST"])
blueprint.add_url_rule("/sim/api/clock", view_func=clock_api.clock_now, methods=["GET"])
blueprint.add_url_rule("/sim/api/clock", view_func=clock_api.clock_advance, methods=["POST"])
blueprint.add_url_rule("/sim/api/thread", view_func=thread.thread, methods=["GET"])


@blueprint.get("/")
def index() -> Response:
    return blueprint.send_static_file("index.html")


@blueprint.errorhandler(SimulatorError)
def _refuse(error: SimulatorError) -> tuple[Response, int]:
    return jsonify(error=error.message), error.status


def install_simulator(app: Flask, payloads: WeChatPayloads, fake_api_root: str) -> None:
    """Add the page at ``/`` and its API under ``/sim/`` to an app built by create_app.

    The app must be served by a threaded server: a send waits for the same server's
    ``/wechat`` to answer.
    """
    app.extensions[SIMULATOR_KEY] = Simulator(payloads, fake_api_root.rstrip("/"))
    app.register_blueprint(blueprint)
