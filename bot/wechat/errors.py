"""What WeChat's errcodes mean, decided here and nowhere else.

WeChat answers a refused call with a numeric errcode. The rest of the project acts on
what a code means, never on the number: every :class:`WeChatAPIError`
carries its :class:`Refusal` (``exc.refusal``), and a tag call's refusals that no retry
fixes come with the sentence staff should read (:func:`tag_refusal`).
"""

from __future__ import annotations

from enum import StrEnum

from wechatpy.exceptions import WeChatClientException


class Refusal(StrEnum):
    """Why WeChat refused a call, as far as what to do next depends on it."""

    # 45015: the resident's 48 hours since their last message are over; 45047: the
    # customer-service messages allowed since then are spent. Another channel may work.
    WINDOW_CLOSED = "window_closed"
    # 43004: the resident unfollowed; 43019: they blocked the account; 40003: the openid
    # is not a follower of this account. Nothing reaches them.
    UNREACHABLE = "unreachable"
    # 45009: the API's daily call quota is spent (each endpoint has its own).
    DAILY_QUOTA = "daily_quota"
    # 45011: the API's per-minute frequency limit.
    MINUTE_QUOTA = "minute_quota"
    # 45028: no mass-send quota left.
    MASS_QUOTA = "mass_quota"
    # 40001, 40014, 42001: the access token is invalid or expired.
    TOKEN = "token"
    # 45065: a mass send with this clientmsgid was already taken (not sent again).
    ALREADY_SENT = "already_sent"
    # 45159: the tag does not exist (deleted meanwhile).
    UNKNOWN_TAG = "unknown_tag"
    # 45157: the tag name is invalid, or another tag has it.
    TAG_NAME_TAKEN = "tag_name_taken"
    # 40007: the media_id is invalid, which is also WeChat's answer after its three days.
    MEDIA_GONE = "media_gone"
    # Anything else, or no answer at all: worth a retry later.
    OTHER = "other"


_REFUSALS: dict[int, Refusal] = {
    45015: Refusal.WINDOW_CLOSED,
    45047: Refusal.WINDOW_CLOSED,
    43004: Refusal.UNREACHABLE,
    43019: Refusal.UNREACHABLE,
    40003: Refusal.UNREACHABLE,
    45009: Refusal.DAILY_QUOTA,
    45011: Refusal.MINUTE_QUOTA,
    45028: Refusal.MASS_QUOTA,
    40001: Refusal.TOKEN,
    40014: Refusal.TOKEN,
    42001: Refusal.TOKEN,
    45065: Refusal.ALREADY_SENT,
    45159: Refusal.UNKNOWN_TAG,
    45157: Refusal.TAG_NAME_TAKEN,
    40007: Refusal.MEDIA_GONE,
}

# The quota refusals: the endpoint that answered one stops taking calls for a while.
QUOTAS = frozenset({Refusal.DAILY_QUOTA, Refusal.MINUTE_QUOTA, Refusal.MASS_QUOTA})

# Answers to a tag call that the same call cannot get past, and what staff should know.
_TAG_REFUSALS = {
    40003: "an openid in the audience is not a follower of this account",
    40032: "WeChat refused the size of the openid list",
    45056: "the account already has WeChat's 100 tags; delete tags it no longer needs",
    45059: "a resident in the audience already has WeChat's 20 tags",
    45157: "WeChat refused the tag name (invalid, or another tag has it)",
    45158: "the tag name is longer than WeChat's 30 characters",
    49003: "an openid in the audience belongs to another account",
}


def refusal(errcode: int | None) -> Refusal:
    """What ``errcode`` means (None: no answer came)."""
    return _REFUSALS.get(errcode, Refusal.OTHER) if errcode is not None else Refusal.OTHER


def tag_refusal(errcode: int | None) -> str | None:
    """Why a tag call failed in a way no retry fixes, for staff; None if a retry may."""
    return _TAG_REFUSALS.get(errcode) if errcode is not None else None


class WeChatAPIError(WeChatClientException):
    """A WeChat call failed. ``errcode`` is WeChat's code, or None when no answer came;
    callers act on :attr:`refusal`, what the code means (bot/wechat/errors.py), so that
    a resident who cannot be reached is told from a call worth retrying."""

    @property
    def refusal(self) -> Refusal:
        return refusal(self.errcode)


class WeChatTokenRejected(WeChatAPIError):
    """WeChat refused the access token, and then refused a freshly fetched one too."""


class WeChatTransportError(WeChatAPIError):
    """No usable answer: the connection failed, or an HTTP error status came back."""


class WeChatTimeout(WeChatTransportError):
    """WeChat did not answer within ``wechat.http_timeout_s``."""


class WeChatFileTooLarge(WeChatAPIError):
    """A downloaded file was bigger than the caller would keep; reading stopped there."""
