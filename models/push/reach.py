"""How a push of one kind would reach many residents now, by the channel rules the worker
plans by (models/push/channels.py ``channel_now``): what a broadcast's preview tells
staff before anything is queued.

:func:`reach_counts` counts a whole audience set-based: one query counts its residents by
whether they still follow, opted out, have their window open and have an unused
subscription consent, and each of those groups is then judged once by ``channel_now``,
so the SQL holds no second copy of the rule, only the windows' lengths from
``window_for``. The customer-service allowance the workers count in Redis comes in as
:class:`~models.push.channels.LiveLimits`: only the residents a spent window names are
read, thousands of openids a query, and moved to the group they then belong to.
:func:`channel_split` judges residents one at a time by
:func:`~models.push.channels.outlook`: the reference the counts are tested against, and
the split of the few residents a mass send reaches by normal messages.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    false,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session

from models.push.channels import (
    ChannelPause,
    LiveLimits,
    Means,
    channel_now,
    outlook,
    window_for,
)
from models.push.consents import SubscriptionConsent
from models.push.vocabulary import Channel
from models.residents import InteractionKind, Resident

# Residents read per query: well below the bound parameters every database allows.
CHUNK = 500
# Openids of spent windows per query: within the bound parameters SQLite allows (32,766).
SPENT_CHUNK = 10_000


class Route(StrEnum):
    """How a resident would get a push now: by one of the channels, put off by a quota
    pause until its probe, or held for their next message (never, if none comes before
    the push expires)."""

    CUSTOM = "custom"
    TEMPLATE = "template"
    SUBSCRIBE = "subscribe"
    PAUSED = "paused"
    HELD = "held"


def route_of(channel: Channel | None, means: Means) -> Route:
    """The route a channel choice (None: none now) means for a push of ``means``."""
    if channel is not None:
        return Route(channel.value)
    return Route.PAUSED if means.waits_until() is not None else Route.HELD


@dataclass(frozen=True)
class Reach:
    """An audience counted: who is left out and why, and the route of everyone else.
    ``paused`` is the pause the residents of :attr:`Route.PAUSED` wait for."""

    excluded_unsubscribed: int
    excluded_opted_out: int
    routes: dict[Route, int]
    paused: ChannelPause | None = None

    @property
    def reached(self) -> int:
        return sum(self.routes.values())

    def counts(self) -> dict[str, int]:
        """Every route's count, by its name, zero included."""
        return {route.value: self.routes.get(route, 0) for route in Route}


@dataclass(frozen=True)
class _Group:
    """Residents a route is the same for."""

    window_open: bool
    consent: bool
    allowance_left: bool = True


def window_open_clause(now: datetime) -> ColumnElement[bool]:
    """SQL for :func:`~models.push.channels.window_is_open` on a resident's last
    interaction: each kind's window from ``window_for``, the rest the default's."""
    default = window_for(None)
    own = [kind for kind in InteractionKind if window_for(kind) != default]
    at, kind_column = Resident.last_interaction_at, Resident.last_interaction_kind
    clauses = [and_(kind_column == kind, at > now - window_for(kind)[0]) for kind in own]
    others = or_(kind_column.is_(None), kind_column.not_in(own))
    clauses.append(and_(others, at > now - default[0]))
    return or_(*clauses)


def consent_clause(template_id: str | None) -> ColumnElement[bool]:
    """SQL for "has an unused subscription consent to ``template_id``": an uncorrelated
    IN, which PostgreSQL hashes once however many residents it is asked about."""
    if template_id is None:
        return false()
    return Resident.id.in_(
        select(SubscriptionConsent.resident_id).where(
            SubscriptionConsent.template_id == template_id,
            SubscriptionConsent.used_at.is_(None),
        )
    )


def reach_counts(
    db: Session,
    audience: ColumnElement[bool] | None,
    now: datetime,
    *,
    means: Means,
    subscribe_template_id: str | None,
    live: LiveLimits,
    opt_out_applies: bool = True,
) -> Reach:
    """The residents of ``audience`` (a WHERE clause on ``resident``, None for
    everyone) counted: unfollowed, opted out (when the kind honours 退订), and the route of each
    other one. ``means.subscription`` must say whether ``subscribe_template_id`` is set."""
    followed = Resident.subscribed.is_(True)
    opted_out = Resident.broadcast_opt_out.is_(True) if opt_out_applies else false()
    reached = and_(followed, ~opted_out)
    # Each resident's state as one small number, each condition evaluated once a row and
    # counted by hash: 0 unfollowed, 1 opted out, else 2 + 2 if open + 1 if consenting.
    state = case(
        (~followed, 0),
        (opted_out, 1),
        else_=2
        + case((window_open_clause(now), 2), else_=0)
        + case((consent_clause(subscribe_template_id), 1), else_=0),
    )
    query = select(state, func.count()).group_by(state)
    if audience is not None:
        query = query.where(audience)
    _no_jit(db)
    excluded: Counter[int] = Counter()
    groups: Counter[_Group] = Counter()
    for code, count in db.execute(query):
        if code < 2:
            excluded[code] += count
        else:
            groups[_Group(window_open=code >= 4, consent=code % 2 == 1)] += count
    unfollowed, opted = excluded[0], excluded[1]
    for consent, count in _spent_counts(
        db, audience, now, subscribe_template_id, live, reached
    ).items():
        groups[_Group(True, consent)] -= count
        groups[_Group(True, consent, allowance_left=False)] += count
    routes: Counter[Route] = Counter()
    for group, count in groups.items():
        channel = channel_now(
            window_open=group.window_open,
            allowance_left=group.allowance_left,
            consent=group.consent,
            means=means,
        )
        routes[route_of(channel, means)] += count
    return Reach(
        unfollowed,
        opted,
        {route: count for route, count in routes.items() if count},
        means.waits_until() if routes[Route.PAUSED] else None,
    )


def _no_jit(db: Session) -> None:
    """PostgreSQL's JIT compiles a count over a million residents for longer (over a
    second) than the count itself takes (a tenth of one): off for this transaction."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("SET LOCAL jit = off"))


def _spent_counts(
    db: Session,
    audience: ColumnElement[bool] | None,
    now: datetime,
    template_id: str | None,
    live: LiveLimits,
    reached: ColumnElement[bool],
) -> Counter[bool]:
    """How many reached residents of ``audience`` have their open window's allowance
    spent, by whether they have a subscription consent. Only the residents named by a
    spent window are read, thousands a query, and a window the resident has since
    replaced by a newer one does not count."""
    spent: Counter[bool] = Counter()
    openids = sorted({openid for openid, _ in live.spent})
    consent = consent_clause(template_id)
    for start in range(0, len(openids), SPENT_CHUNK):
        query = select(Resident.openid, Resident.last_interaction_at, consent).where(
            Resident.openid.in_(openids[start : start + SPENT_CHUNK]),
            reached,
            window_open_clause(now),
        )
        if audience is not None:
            query = query.where(audience)
        for openid, opened_at, has_consent in db.execute(query):
            if not live.allowance_left(openid, opened_at):
                spent[bool(has_consent)] += 1
    return spent


@dataclass(frozen=True)
class ChannelSplit:
    """The route of each resident, judged one at a time."""

    routes: dict[int, Route] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        tally = Counter(self.routes.values())
        return {route.value: tally.get(route, 0) for route in Route}


def channel_split(
    db: Session,
    resident_ids: Sequence[int],
    now: datetime,
    *,
    means: Means,
    subscribe_template_id: str | None,
    live: LiveLimits,
) -> ChannelSplit:
    """The route each of ``resident_ids`` would take now, each judged by ``outlook``."""
    routes: dict[int, Route] = {}
    for start in range(0, len(resident_ids), CHUNK):
        chunk = list(resident_ids[start : start + CHUNK])
        for resident_id, openid, opened_at, kind, consent in db.execute(
            select(
                Resident.id,
                Resident.openid,
                Resident.last_interaction_at,
                Resident.last_interaction_kind,
                consent_clause(subscribe_template_id),
            ).where(Resident.id.in_(chunk))
        ):
            seen = outlook(
                opened_at,
                kind,
                now,
                means=means,
                consent=bool(consent),
                allowance_left=live.allowance_left(openid, opened_at),
            )
            routes[resident_id] = route_of(seen.channel, means)
    return ChannelSplit(routes)
