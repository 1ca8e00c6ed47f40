"""Reads of collections and share links, always scoped to an owner (another user's collection is None).

Which assets a collection holds is ``search.selectors.collection_assets``: a smart collection's
members come from its search.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from albums.models import Collection, ShareLink
from albums.services import share_key_digest


def collections_of(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Collection]:
    """The user's collections by name; ``item_count`` counts a manual one's visible (not trashed) images."""
    if not user.is_authenticated:
        return Collection.objects.none()
    return Collection.objects.filter(owner=user).order_by("name", "id")


def collection_get(*, user: AbstractBaseUser | AnonymousUser, collection_id: uuid.UUID | str) -> Collection | None:
    try:
        key = uuid.UUID(str(collection_id))
    except ValueError:
        return None
    return collections_of(user).filter(pk=key).first()


def collections_named(names: Iterable[str], *, owners: QuerySet) -> dict[str, Collection]:
    """The collections with these names (any case) of the owners ``owners`` (a values("owner_id") subquery).

    Keyed by lower-case name. Search passes the owners of the assets it searches, so a name only ever
    finds the searcher's own collections.
    """
    lowered = {name.lower() for name in names}
    if not lowered:
        return {}
    condition = Q(pk__in=[])
    for name in sorted(lowered):
        condition |= Q(name__iexact=name)
    found = Collection.objects.filter(owner_id__in=owners).filter(condition)
    return {collection.name.lower(): collection for collection in found}


def manual_counts(collections: Iterable[Collection]) -> dict[uuid.UUID, int]:
    """How many visible images each manual collection holds (trashed ones are not counted)."""
    ids = [collection.pk for collection in collections if not collection.is_smart]
    if not ids:
        return {}
    rows = (
        Collection.objects.filter(pk__in=ids, items__asset__trashed_at__isnull=True)
        .annotate(count=Count("items"))
        .values_list("pk", "count")
    )
    return dict(rows)


def share_link_live(*, collection: Collection) -> ShareLink | None:
    now = timezone.now()
    link = ShareLink.objects.filter(collection=collection, revoked_at__isnull=True).first()
    return link if link is not None and link.is_live(now) else None


@dataclass(frozen=True)
class ShareLookup:
    """What a share key opens: ``link`` when it is live; otherwise ``gone`` says it once existed."""

    link: ShareLink | None
    gone: str = ""  # "revoked" or "expired" (410); "" with no link: never existed (404)


def share_link_open(key: str) -> ShareLookup:
    if not key or len(key) > 100:
        return ShareLookup(link=None)
    link = ShareLink.objects.filter(digest=share_key_digest(key)).select_related("collection").first()
    if link is None:
        return ShareLookup(link=None)
    if link.revoked_at is not None:
        return ShareLookup(link=None, gone="revoked")
    if not link.is_live():
        return ShareLookup(link=None, gone="expired")
    return ShareLookup(link=link)
