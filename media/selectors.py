"""Reads from the asset library. Every query a user can reach starts from assets_visible_to.

Trashed assets are not visible: ``Asset.objects`` leaves them out (see media.models), so nothing
built on it can show one by accident. The trash's own reads are the ``trash_*`` selectors below.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower, Upper

from media.models import Asset, AssetKind, TaggingStatus
from media.video_proxy import WEB_CODECS, WEB_CONTAINERS


def assets_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Asset]:
    """The assets ``user`` may see: their own, not in the trash. Anonymous users see none."""
    if not user.is_authenticated:
        return Asset.objects.none()
    return Asset.objects.filter(owner=user)


def asset_get(*, user: AbstractBaseUser | AnonymousUser, asset_id: uuid.UUID | str) -> Asset | None:
    """One visible asset, or None (also for ids that exist but belong to someone else, or are trashed)."""
    key = _uuid(asset_id)
    if key is None:
        return None
    return assets_visible_to(user).filter(pk=key).first()


def _uuid(value: uuid.UUID | str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


# --- the trash ------------------------------------------------------------------------------------


def trash_of(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Asset]:
    """The user's trashed assets, most recently trashed first. Anonymous users have none."""
    if not user.is_authenticated:
        return Asset.all_objects.none()
    return Asset.all_objects.filter(owner=user, trashed_at__isnull=False).order_by("-trashed_at", "-id")


def trashed_asset_get(*, user: AbstractBaseUser | AnonymousUser, asset_id: uuid.UUID | str) -> Asset | None:
    """One of the user's trashed assets, or None (another user's, a visible one, or no such id)."""
    key = _uuid(asset_id)
    if key is None:
        return None
    return trash_of(user).filter(pk=key).first()


def trash_purge_date(asset: Asset) -> datetime | None:
    """When the sweeper deletes a trashed asset for good (TRASH_DAYS after it was trashed)."""
    if asset.trashed_at is None:
        return None
    return asset.trashed_at + timedelta(days=settings.TRASH_DAYS)


def trash_expired(*, now: datetime) -> QuerySet[Asset]:
    """Every owner's assets trashed more than TRASH_DAYS before ``now``, oldest first: the purge's list."""
    cutoff = now - timedelta(days=settings.TRASH_DAYS)
    return Asset.all_objects.filter(trashed_at__lt=cutoff).order_by("trashed_at", "id")


def asset_mark_new(asset: Asset) -> Asset:
    """Record that nothing refers to ``asset`` yet, so listing its related rows costs no queries.

    Only for a row this request has just inserted: the upload's receivers only schedule work for
    after the commit, so detections, tags and runs cannot exist yet. Saves four queries per upload.
    """
    cache = asset.__dict__.setdefault("_prefetched_objects_cache", {})
    for relation in Asset._meta.related_objects:
        if relation.one_to_many or relation.many_to_many:
            manager = getattr(asset, relation.get_accessor_name())
            empty = manager.none()
            empty._result_cache, empty._prefetch_done = [], True  # what prefetch_related stores, without SQL
            cache[getattr(manager, "prefetch_cache_name", relation.cache_name)] = empty
    return asset


def asset_ids_existing(*, asset_ids: set[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these ids have a row (trashed ones too: their files are still needed)."""
    return set(Asset.all_objects.filter(pk__in=asset_ids).values_list("pk", flat=True))


def video_proxies_missing(*, tagged_before: datetime, limit: int) -> list[uuid.UUID]:
    """Tagged videos that browsers may not play and that have neither a proxy nor a failed try, oldest
    first: their proxy task was lost (broker down, worker died), or they were tagged before proxies."""
    playable = Q(container__in=sorted(WEB_CONTAINERS), codec__in=sorted(WEB_CODECS))
    return list(
        Asset.objects.filter(  # live ones: a restored video is found again
            kind=AssetKind.VIDEO, video_proxy="", video_proxy_error="", tagging_status=TaggingStatus.TAGGED,
            tagged_at__lt=tagged_before,
        )
        .annotate(container=Upper("format"), codec=Lower("video_codec"))
        .exclude(playable)
        .order_by("tagged_at")
        .values_list("pk", flat=True)[:limit]
    )
