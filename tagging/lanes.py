"""Two lanes of tagging work: fresh uploads first, then bulk re-tags with users taking turns.

Fresh work is one message per asset on ``TAGGING_QUEUE``. Bulk work is a row per asset
(``BulkRequest``) and only a few messages (``BulkToken``) on ``TAGGING_BULK_QUEUE``; a token, when a
worker runs it, tags whatever is due *then*: a fresh asset still waiting (so fresh work goes first
whatever order the broker hands messages out in), else the oldest bulk asset of the user whose bulk
work was served longest ago. Sending the tokens is ``tagging.tasks``'s; these are the database writes.

Exactly once across lanes: an asset is claimed by its status (``tagging_claim``) whichever lane's
message reaches it, and its bulk row goes when its tagging ends or a fresh request moves it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils import timezone

from media.models import Asset, TaggingStatus
from tagging.models import BulkRequest, BulkToken, BulkTurn
from tagging.services import tagging_reset


@dataclass(frozen=True)
class Job:
    asset_id: uuid.UUID
    model: str
    lane: str  # "fresh" or "bulk"


def fresh_waiting() -> QuerySet[Asset]:
    """Assets waiting in the fresh lane: pending, not in the trash, with no bulk request."""
    return Asset.objects.filter(tagging_status=TaggingStatus.PENDING).exclude(
        Exists(BulkRequest.objects.filter(asset_id=OuterRef("pk")))
    )


def fresh_line() -> QuerySet[Asset]:
    """The fresh assets whose message was sent, in the order sent (``line_key``).

    Bulk assets are pending with no send time, so the (status, send time) index finds these without
    looking at a big bulk line; a fresh asset not sent yet (broker down) joins when the sweeper sends it.
    """
    return (
        Asset.objects.filter(tagging_status=TaggingStatus.PENDING, tagging_enqueued_at__isnull=False)
        .exclude(Exists(BulkRequest.objects.filter(asset_id=OuterRef("pk"))))
        .annotate(line_key=F("tagging_enqueued_at"))
    )


FRESH_ORDER = ("tagging_enqueued_at", "pk")
MAX_TURNS_LOOKED_AT = 50


def bulk_waiting() -> QuerySet[BulkRequest]:
    """Bulk requests whose asset still waits (not claimed by a worker, not in the trash)."""
    return BulkRequest.objects.filter(asset__tagging_status=TaggingStatus.PENDING, asset__trashed_at__isnull=True)


def bulk_add(*, asset_ids: Sequence[uuid.UUID | str], model: str = "") -> int:
    """Put assets in the bulk lane; return how many are (now) waiting there.

    An asset already waiting in the fresh lane stays there (it will be tagged once, soon) unless a
    different model was asked for. One already in the bulk lane keeps its place in its owner's line.
    """
    now = timezone.now()
    with transaction.atomic():
        assets = Asset.objects.filter(pk__in=list(asset_ids))
        in_bulk = set(BulkRequest.objects.filter(asset_id__in=assets.values("pk")).values_list("asset_id", flat=True))
        skip: set[uuid.UUID] = set()
        if not model:
            skip = set(fresh_waiting().filter(pk__in=assets.values("pk")).values_list("pk", flat=True))
        rows = list(assets.exclude(pk__in=skip).values_list("pk", "owner_id", "tagging_status"))
        if in_bulk:
            BulkRequest.objects.filter(asset_id__in=in_bulk).update(model=model)
        resettable = [pk for pk, _, status in rows if not (pk in in_bulk and status == TaggingStatus.PENDING)]
        tagging_reset(assets=Asset.objects.filter(pk__in=resettable))
        # In the order asked (retag asks oldest first): a microsecond apart, so the index gives the order.
        order = {str(pk): i for i, pk in enumerate(asset_ids)}
        BulkRequest.objects.bulk_create(
            [BulkRequest(asset_id=pk, owner_id=owner, model=model,
                         requested_at=now + timedelta(microseconds=order.get(str(pk), 0)))
             for pk, owner, _ in rows if pk not in in_bulk]
        )
        for owner in {owner for _, owner, _ in rows}:
            BulkTurn.objects.get_or_create(owner_id=owner, defaults={"since": now})
    return len(rows)


def bulk_forget(*, asset_ids: Sequence[uuid.UUID | str]) -> int:
    """Take assets out of the bulk lane (a fresh request moved them, or their tagging ended)."""
    return BulkRequest.objects.filter(asset_id__in=list(asset_ids)).delete()[0]


def tokens_reserve(*, limit: int | None = None) -> list[uuid.UUID]:
    """Create the token rows still missing for the bulk work waiting; the caller sends them.

    At most ``TAGGING_BULK_IN_FLIGHT`` tokens exist, and no more than there are assets waiting.
    """
    limit = settings.TAGGING_BULK_IN_FLIGHT if limit is None else limit
    waiting = len(bulk_waiting().values_list("pk", flat=True)[:limit])
    missing = waiting - BulkToken.objects.count()
    if missing <= 0:
        return []
    now = timezone.now()
    tokens = [BulkToken(id=uuid.uuid4(), sent_at=now) for _ in range(missing)]
    BulkToken.objects.bulk_create(tokens)
    return [token.id for token in tokens]


def token_release(*, token: uuid.UUID | str) -> None:
    """The token's message has run (or could not be sent): its place is free for another."""
    BulkToken.objects.filter(pk=token).delete()


def tokens_expire(*, now: datetime | None = None) -> int:
    """Forget tokens sent long ago: their message was lost (a broker restart). One that was only slow
    still runs later; an extra token is harmless, it finds the work due or nothing."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.TAGGING_REQUEUE_AFTER)
    return BulkToken.objects.filter(sent_at__lt=cutoff).delete()[0]


def next_job(*, skip: Sequence[uuid.UUID] = ()) -> Job | None:
    """What a token should tag now: the oldest fresh asset waiting, else the next bulk asset in turn.

    Users take turns: among those with bulk work waiting, the one served longest ago (never served
    first, then the earliest request) gets the next asset, and their turn is recorded.
    """
    fresh = fresh_line().exclude(pk__in=list(skip)).order_by(*FRESH_ORDER).values_list("pk", flat=True).first()
    if fresh is not None:
        return Job(asset_id=fresh, model="", lane="fresh")
    turns = (
        BulkTurn.objects.filter(Exists(BulkRequest.objects.filter(owner_id=OuterRef("owner_id"))))
        .order_by(F("served_at").asc(nulls_first=True), "since", "owner_id")
        .values_list("owner_id", flat=True)
    )
    # A user whose requests are all being tagged right now has nothing waiting: the next user's turn.
    for owner in turns[:MAX_TURNS_LOOKED_AT]:
        found = _first_waiting(owner, skip)
        if found is not None:
            BulkTurn.objects.filter(owner_id=owner).update(served_at=timezone.now())
            return Job(asset_id=found[0], model=found[1], lane="bulk")
    return None


def _first_waiting(owner: int, skip: Sequence[uuid.UUID]) -> tuple[uuid.UUID, str] | None:
    """The owner's oldest request whose asset still waits. Read a page at a time along the
    (owner, requested_at) index: a join over the whole line costs far more, and only the few being
    tagged right now sit at its head."""
    page = settings.TAGGING_BULK_IN_FLIGHT * 2 + 8
    line = BulkRequest.objects.filter(owner_id=owner).exclude(asset_id__in=list(skip)).order_by("requested_at")
    for start in range(0, 1_000_000_000, page):
        head = list(line.values_list("asset_id", "model")[start : start + page])
        if not head:
            return None
        waiting = set(
            Asset.objects.filter(pk__in=[pk for pk, _ in head], tagging_status=TaggingStatus.PENDING)
            .values_list("pk", flat=True)
        )
        for pk, model in head:
            if pk in waiting:
                return pk, model
    return None
