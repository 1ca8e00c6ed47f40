"""Reads from the asset library. Every query a user can reach starts from assets_visible_to."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from media.models import Asset


def assets_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Asset]:
    """The assets ``user`` may see: their own. Anonymous users see none."""
    if not user.is_authenticated:
        return Asset.objects.none()
    return Asset.objects.filter(owner=user)


def asset_get(*, user: AbstractBaseUser | AnonymousUser, asset_id: uuid.UUID | str) -> Asset | None:
    """One visible asset, or None (also for ids that exist but belong to someone else)."""
    try:
        key = uuid.UUID(str(asset_id))
    except ValueError:
        return None
    return assets_visible_to(user).filter(pk=key).first()


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
