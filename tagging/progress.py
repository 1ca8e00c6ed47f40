"""How far a user's tagging has got: what waits in each lane, what is being tagged, each waiting upload's
place in the line, and an estimate of the wait from recent runs.

The estimate: the assets that will run before the user's last one (the fresh line up to it; in the
bulk lane, every fresh asset plus, because users take turns, up to as many of each other user's bulk
assets as the user has waiting), times the median detection time per image of the last runs, divided by
the workers busy lately. It counts detection time only, so a broker with a large per-task overhead
makes it optimistic.
"""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from media.models import Asset, TaggingStatus
from tagging.lanes import FRESH_ORDER, fresh_line
from tagging.models import BulkRequest, DetectionRun

RECENT_RUNS = 50
BUSY_WINDOW = timedelta(minutes=10)
MAX_POSITIONS = 200


@dataclass(frozen=True)
class Progress:
    fresh: int  # the user's assets waiting in the fresh lane
    bulk: int  # ...in the bulk lane
    tagging: int  # ...being tagged now
    seconds_per_image: float | None  # median detection time per image, recent runs (all users)
    workers: int  # workers busy lately (at least 1)
    estimate_seconds: int | None  # until the user's last waiting asset is tagged; None: no runs to go by
    positions: list[tuple[uuid.UUID, int]]  # the user's fresh assets and their place in the fresh line

    @property
    def waiting(self) -> int:
        return self.fresh + self.bulk

    @property
    def summary(self) -> str:
        """One line for people: "12 waiting · 1 being tagged · about 40 s"; empty when nothing is left."""
        if not self.waiting and not self.tagging:
            return ""
        parts = [f"{self.waiting} waiting"]
        if self.tagging:
            parts.append(f"{self.tagging} being tagged")
        if self.estimate_seconds is not None:
            parts.append(f"about {duration_words(self.estimate_seconds)}")
        return " · ".join(parts)


def duration_words(seconds: int) -> str:
    if seconds < 60:
        return f"{max(seconds, 1)} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def _places(owner: AbstractBaseUser, asset_ids: Sequence[uuid.UUID] | None) -> list[tuple[uuid.UUID, int]]:
    """The user's fresh assets (or those of ``asset_ids`` that are) with 1 + how many are ahead of each."""
    line = fresh_line()
    ahead = (
        line.filter(Q(line_key__lt=OuterRef("line_key")) | Q(line_key=OuterRef("line_key"), pk__lt=OuterRef("pk")))
        .order_by()
        .values("tagging_status")
        .annotate(n=Count("pk"))
        .values("n")
    )
    mine = line.filter(owner=owner)
    if asset_ids is not None:
        mine = mine.filter(pk__in=list(asset_ids))
    rows = mine.annotate(ahead=Coalesce(Subquery(ahead, output_field=IntegerField()), 0)).order_by(*FRESH_ORDER)
    return [(pk, ahead + 1) for pk, ahead in rows.values_list("pk", "ahead")[:MAX_POSITIONS]]


def _pace() -> tuple[float | None, int]:
    """Median seconds of detection per image over the last runs, and how many workers ran lately."""
    recent = list(
        DetectionRun.objects.filter(succeeded=True, duration_ms__isnull=False)
        .order_by("-started_at", "-id")
        .values_list("duration_ms", "batch_size", "worker", "started_at")[:RECENT_RUNS]
    )
    per_image = statistics.median(ms / max(batch, 1) / 1000 for ms, batch, _, _ in recent) if recent else None
    since = timezone.now() - BUSY_WINDOW
    busy = len({worker for _, _, worker, started in recent if started >= since})
    processing = Asset.objects.filter(tagging_status=TaggingStatus.PROCESSING).count()
    return per_image, max(busy, processing, 1)


def _place_of_last(owner: AbstractBaseUser) -> int:
    """The place in the fresh line of the user's last waiting upload (0: none waits)."""
    line = fresh_line()
    last = line.filter(owner=owner).order_by("-line_key", "-pk").values_list("line_key", "pk").first()
    if last is None:
        return 0
    key, pk = last
    return line.filter(Q(line_key__lt=key) | Q(line_key=key, pk__lte=pk)).count()


def tagging_progress(
    *, user: AbstractBaseUser, asset_ids: Sequence[uuid.UUID] | None = None, with_positions: bool = True
) -> Progress:
    """The user's progress; ``with_positions=False`` leaves out the places (a page's summary line)."""
    mine = Asset.objects.filter(owner=user)
    # Counted along indexes (the user's requests; the few assets being tagged), never by joining a
    # long bulk line to the assets: that join took most of a second at 100,000 requests.
    requested = BulkRequest.objects.filter(owner=user).count()
    running = mine.filter(tagging_status=TaggingStatus.PROCESSING, bulk_request__isnull=False).count()
    bulk = max(requested - running, 0)
    fresh = max(mine.filter(tagging_status=TaggingStatus.PENDING).count() - bulk, 0)
    tagging = mine.filter(tagging_status=TaggingStatus.PROCESSING).count()
    positions = _places(user, asset_ids) if with_positions else []
    per_image, workers = _pace()

    # Uploads not sent yet (the broker was down) wait behind the whole line.
    unsent = fresh - fresh_line().filter(owner=user).count() if fresh else 0
    before_last = (fresh_line().count() + unsent if unsent else _place_of_last(user)) if fresh else 0
    if bulk:
        # Other users' lines from the requests alone (no join): the few being tagged count as waiting.
        others = (
            BulkRequest.objects.exclude(owner=user).order_by().values("owner_id").annotate(n=Count("pk"))
            .values_list("n", flat=True)
        )
        before_last = fresh_line().count() + bulk + sum(min(n, bulk) for n in others)
    estimate = None
    if per_image is not None and (before_last or tagging):
        estimate = round((before_last + tagging) * per_image / workers)
    return Progress(
        fresh=fresh, bulk=bulk, tagging=tagging, seconds_per_image=per_image, workers=workers,
        estimate_seconds=estimate, positions=positions,
    )
