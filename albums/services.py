"""Writes to collections and share links. Assets are never deleted here: removing one from a collection,
or deleting a collection, only removes its place in it.

A smart collection's search is checked by the caller (``search.selectors.collection_query_check``):
this app comes before search and does not parse queries.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from albums.models import NAME_MAX_LENGTH, QUERY_MAX_LENGTH, Collection, CollectionItem, ShareLink
from media.models import Asset

SHARE_KEY_BYTES = 24  # 192 random bits in every link
COLLECTIONS_MAX_PER_USER = 1000


class CollectionInvalid(ValueError):
    """A change that cannot be made; ``message`` says why and what to do, ``field`` which input."""

    def __init__(self, message: str, *, field: str = "name", code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


def collection_name_clean(name: str) -> str:
    text = " ".join("".join(ch for ch in unicodedata.normalize("NFC", name or "") if ch.isprintable()).split())
    if not text:
        raise CollectionInvalid("Give the collection a name.", code="required")
    if len(text) > NAME_MAX_LENGTH:
        raise CollectionInvalid(f"A collection's name has at most {NAME_MAX_LENGTH} characters.", code="too_long")
    return text


def _query_clean(query: str) -> str:
    text = " ".join((query or "").split())
    if len(text) > QUERY_MAX_LENGTH:
        raise CollectionInvalid(f"The search has at most {QUERY_MAX_LENGTH} characters.", field="query",
                                code="too_long")
    return text


def _taken(owner_id: int, name: str, *, exclude: Collection | None = None) -> bool:
    others = Collection.objects.filter(owner_id=owner_id, name__iexact=name)
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    return others.exists()


def _duplicate(name: str) -> CollectionInvalid:
    return CollectionInvalid(f"You already have a collection called “{name}”; choose another name.",
                             code="duplicate")


def collection_create(*, owner: AbstractBaseUser, name: str, query: str = "") -> Collection:
    """A new collection: manual without ``query``, smart with one (already checked by the caller)."""
    name = collection_name_clean(name)
    query = _query_clean(query)
    if Collection.objects.filter(owner=owner).count() >= COLLECTIONS_MAX_PER_USER:
        raise CollectionInvalid(f"You have {COLLECTIONS_MAX_PER_USER} collections, the most allowed.",
                                code="too_many")
    if _taken(owner.pk, name):
        raise _duplicate(name)
    try:
        with transaction.atomic():
            return Collection.objects.create(owner=owner, name=name, query=query)
    except IntegrityError:  # the same name created at the same moment
        raise _duplicate(name) from None


def collection_update(*, collection: Collection, name: str | None = None, query: str | None = None) -> Collection:
    """Rename, or change a smart collection's search. A manual collection stays manual and a smart one smart."""
    if name is not None:
        name = collection_name_clean(name)
        if _taken(collection.owner_id, name, exclude=collection):
            raise _duplicate(name)
        collection.name = name
    if query is not None:
        query = _query_clean(query)
        if not collection.is_smart:
            raise CollectionInvalid(
                "This collection is manual: add and remove images instead. For one that follows a search, "
                "create a smart collection.", field="query", code="manual_collection")
        if not query:
            raise CollectionInvalid("A smart collection needs a search.", field="query", code="required")
        collection.query = query
    try:
        with transaction.atomic():
            collection.save()
    except IntegrityError:
        raise _duplicate(collection.name) from None
    return collection


def collection_delete(*, collection: Collection) -> None:
    """The collection, its places and its share links go; its assets stay in the library."""
    collection.delete()


def _manual(collection: Collection) -> None:
    if collection.is_smart:
        raise CollectionInvalid(
            f"“{collection.name}” is a smart collection: its images are whatever its search finds "
            f"({collection.query}). Change the search instead.", field="ids", code="smart_collection")


def collection_add(*, collection: Collection, assets: QuerySet[Asset]) -> int:
    """Put ``assets`` (already the owner's) in a manual collection; how many were not in it yet."""
    _manual(collection)
    ids = list(assets.filter(owner_id=collection.owner_id).values_list("pk", flat=True))
    present = set(CollectionItem.objects.filter(collection=collection, asset_id__in=ids).values_list("asset_id",
                                                                                                     flat=True))
    rows = [CollectionItem(collection=collection, asset_id=key) for key in ids if key not in present]
    CollectionItem.objects.bulk_create(rows, ignore_conflicts=True)
    if rows:
        Collection.objects.filter(pk=collection.pk).update(updated_at=timezone.now())
    return len(rows)


def collection_remove(*, collection: Collection, asset_ids: Sequence[object]) -> int:
    """Take assets out of a manual collection (they stay in the library); how many were in it."""
    _manual(collection)
    removed, _ = CollectionItem.objects.filter(collection=collection, asset_id__in=list(asset_ids)).delete()
    if removed:
        Collection.objects.filter(pk=collection.pk).update(updated_at=timezone.now())
    return removed


# --- share links ----------------------------------------------------------------------------------


def share_key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def share_link_create(
    *, collection: Collection, expires_in_days: int | None = None, allow_download: bool = False
) -> tuple[ShareLink, str]:
    """A new link to the collection, and its key (shown once: only its digest is kept).

    The collection's earlier link stops working: one live link per collection.
    """
    limit = settings.SHARE_LINK_MAX_DAYS
    if expires_in_days is not None and expires_in_days < 1:
        raise CollectionInvalid("expires_in_days: at least 1 (or leave it out for no end).",
                                field="expires_in_days")
    if limit and (expires_in_days is None or expires_in_days > limit):
        if expires_in_days is not None:
            raise CollectionInvalid(f"Share links live at most {limit} days here.", field="expires_in_days")
        expires_in_days = limit
    if expires_in_days is not None and expires_in_days > 3650:
        raise CollectionInvalid("expires_in_days: at most 3650 (ten years).", field="expires_in_days")
    now = timezone.now()
    key = secrets.token_urlsafe(SHARE_KEY_BYTES)
    with transaction.atomic():
        share_link_revoke(collection=collection, now=now)
        link = ShareLink.objects.create(
            collection=collection,
            digest=share_key_digest(key),
            allow_download=allow_download,
            created_at=now,
            expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
        )
    return link, key


def share_link_revoke(*, collection: Collection, now: object = None) -> int:
    """Turn off the collection's live link (it then answers 410); how many were live."""
    return ShareLink.objects.filter(collection=collection, revoked_at__isnull=True).update(
        revoked_at=now or timezone.now()
    )
