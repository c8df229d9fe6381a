"""The outbound API facade: one method per WeChat endpoint the project calls, named for
what it does, one class per area (messages, mass sends, tags, QR codes, menu, media).

Every JSON body sent to WeChat is built here and nowhere else; callers speak intents
("send this text to this resident", "tag these openids"). The transport underneath, with
its shared token, timeouts and bounded retry, is bot/wechat/client.py (with token.py,
transport.py and download.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.config.sections import MenuButton, MenuConfig
from bot.wechat.client import AixiangWeChatClient
from bot.wechat.errors import WeChatTransportError


class _Area:
    def __init__(self, client: AixiangWeChatClient) -> None:
        self._client = client

    def _post(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._client.post(endpoint, data=body)
        return result


class Messages(_Area):
    """Messages to one resident."""

    CUSTOM = "message/custom/send"
    TEMPLATE = "message/template/send"
    SUBSCRIPTION = "message/subscribe/bizsend"

    def send_text(self, openid: str, text: str) -> None:
        """A customer-service text message (inside the resident's allowance)."""
        self._post(self.CUSTOM, {"touser": openid, "msgtype": "text", "text": {"content": text}})

    def send_template(
        self, openid: str, template_id: str, fields: Mapping[str, str], url: str = ""
    ) -> None:
        """A template message (service accounts) with each field's text."""
        self._post(self.TEMPLATE, _templated(openid, template_id, fields, "url", url))

    def send_subscription_notice(
        self, openid: str, template_id: str, fields: Mapping[str, str], page: str = ""
    ) -> None:
        """A subscription notice, paid for by one consent the resident gave."""
        self._post(self.SUBSCRIPTION, _templated(openid, template_id, fields, "page", page))


def _templated(
    openid: str, template_id: str, fields: Mapping[str, str], link_key: str, link: str
) -> dict[str, Any]:
    """A template message's or subscription notice's body; they differ only in the name
    of the link a tap opens."""
    body: dict[str, Any] = {
        "touser": openid,
        "template_id": template_id,
        "data": {name: {"value": value} for name, value in fields.items()},
    }
    if link:
        body[link_key] = link
    return body


class Mass(_Area):
    """Mass sends of a text. ``send_id`` makes WeChat drop a retried duplicate (45065)."""

    TO_GROUP = "message/mass/sendall"
    TO_OPENIDS = "message/mass/send"

    def send_text_to_all(self, text: str, send_id: str) -> dict[str, Any]:
        return self._post(self.TO_GROUP, {**_text(text, send_id), "filter": {"is_to_all": True}})

    def send_text_to_tag(self, tag_id: int, text: str, send_id: str) -> dict[str, Any]:
        """To a WeChat user tag by its ``tag_id`` (never wechatpy's obsolete ``group_id``)."""
        return self._post(
            self.TO_GROUP,
            {**_text(text, send_id), "filter": {"is_to_all": False, "tag_id": tag_id}},
        )

    def send_text_to_openids(
        self, openids: Sequence[str], text: str, send_id: str
    ) -> dict[str, Any]:
        """To a list of 2 to 10,000 openids (service accounts)."""
        return self._post(self.TO_OPENIDS, {**_text(text, send_id), "touser": list(openids)})


def _text(text: str, send_id: str) -> dict[str, Any]:
    return {"msgtype": "text", "text": {"content": text}, "clientmsgid": send_id}


@dataclass(frozen=True)
class Tag:
    id: int
    name: str


class Tags(_Area):
    """User tags. The endpoint names are public so callers can say which step failed."""

    LIST = "tags/get"
    CREATE = "tags/create"
    DELETE = "tags/delete"
    MEMBERS = "user/tag/get"
    TAG_USERS = "tags/members/batchtagging"
    UNTAG_USERS = "tags/members/batchuntagging"
    # WeChat tags or untags at most this many openids a call.
    BATCH = 50

    def get(self) -> list[Tag]:
        """Every tag of the account."""
        result: dict[str, Any] = self._client.get(self.LIST)
        return [Tag(int(tag["id"]), str(tag["name"])) for tag in result["tags"]]

    def create(self, name: str) -> int:
        """The new tag's id."""
        return int(self._post(self.CREATE, {"tag": {"name": name}})["tag"]["id"])

    def delete(self, tag_id: int) -> None:
        self._post(self.DELETE, {"tag": {"id": tag_id}})

    def members(self, tag_id: int, after: str = "") -> tuple[list[str], str]:
        """One page of the tag's openids (up to 10,000) from ``after``, and the openid to
        ask from next ("" at the end)."""
        page = self._post(self.MEMBERS, {"tagid": tag_id, "next_openid": after})
        openids = [str(openid) for openid in (page.get("data") or {}).get("openid") or []]
        return openids, str(page.get("next_openid") or "")

    def tag_users(self, tag_id: int, openids: Sequence[str]) -> None:
        """Give the tag to at most :attr:`BATCH` openids."""
        self._post(self.TAG_USERS, {"openid_list": list(openids), "tagid": tag_id})

    def untag_users(self, tag_id: int, openids: Sequence[str]) -> None:
        """Take the tag from at most :attr:`BATCH` openids."""
        self._post(self.UNTAG_USERS, {"openid_list": list(openids), "tagid": tag_id})


class QRCodes(_Area):
    def create_permanent(self, scene: str) -> str:
        """A permanent QR code carrying ``scene``; its ticket, "" if WeChat gave none."""
        created = self._post(
            "qrcode/create",
            {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": scene}}},
        )
        return str(created.get("ticket") or "")

    def image(self, ticket: str) -> bytes:
        """The PNG of the QR code behind ``ticket`` (showqrcode), from the configured API
        host: wechatpy's own download hard-codes mp.weixin.qq.com, which the fake API and
        a proxy in front of WeChat would not see. The ticket is its own key, so no access
        token goes with it (a None parameter is left out of the query). An answer that is
        not an image raises WeChatTransportError."""
        answer = self._client.get("showqrcode", params={"ticket": ticket, "access_token": None})
        if isinstance(answer, dict) or not answer.headers.get("Content-Type", "").startswith(
            "image/"
        ):
            raise WeChatTransportError(None, "the QR code download answered without an image")
        return bytes(answer.content)


class Menus(_Area):
    def create(self, menu: MenuConfig) -> None:
        """Replace the account's menu with ``menu`` (``aixiang menu push``)."""
        self._post("menu/create", menu_to_wechat(menu))


def menu_to_wechat(menu: MenuConfig) -> dict[str, Any]:
    """WeChat's menu JSON: CLICK buttons carry their key, VIEW buttons their url."""
    return {"button": [_menu_button(button) for button in menu.buttons]}


def _menu_button(button: MenuButton) -> dict[str, Any]:
    if button.sub_buttons:
        return {
            "name": button.name,
            "sub_button": [_menu_button(sub) for sub in button.sub_buttons],
        }
    if button.key:
        return {"type": "click", "name": button.name, "key": button.key}
    return {"type": "view", "name": button.name, "url": button.url}


class Media(_Area):
    def download(self, media_id: str, max_bytes: int) -> Any:
        """media/get, read as it arrives and refused (WeChatFileTooLarge) once it passes
        ``max_bytes``: wechatpy's ``media.download`` holds the whole answer, however big,
        before anyone can look at its size. The whole download must end within the
        client's timeout (WeChatTimeout), not only each read, so a server that trickles
        the file cannot hold the sweep. Answers the file as a requests Response, or
        WeChat's JSON when JSON came back (a video's MediaId gives a ``video_url``)."""
        return self._client.get("media/get", params={"media_id": media_id}, max_bytes=max_bytes)


class WeChatAPI:
    """Every area of the API over one client (one shared token, one connection pool)."""

    def __init__(self, client: AixiangWeChatClient) -> None:
        self.client = client
        self.messages = Messages(client)
        self.mass = Mass(client)
        self.tags = Tags(client)
        self.qrcode = QRCodes(client)
        self.menu = Menus(client)
        self.media = Media(client)
