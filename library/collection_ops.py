"""Collections as the pages and the API use them: writes checked against search (a smart collection's
search must run, and must not include the collection itself), and what a collection holds now.

The rows are ``albums``'; membership of smart collections is ``search.selectors.collection_assets``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet

from albums.models import Collection
from albums.selectors import manual_counts
from albums.services import CollectionInvalid, collection_create, collection_update
from media.models import Asset
from search.query import QueryError
from search.selectors import collection_assets, collection_node, collection_query_check


def _loop_check(collection: Collection) -> None:
    """Raise QueryError if, as saved now, the collection's search runs into a loop of collections."""
    if collection.is_smart:
        collection_node(collection, assets=Asset.objects.filter(owner_id=collection.owner_id))


def collection_create_checked(*, owner: AbstractBaseUser, name: str, query: str = "") -> Collection:
    """A manual collection, or a smart one whose search is checked. CollectionInvalid or QueryError."""
    if query and query.strip():
        query = collection_query_check(query, owner=owner)
    with transaction.atomic():
        collection = collection_create(owner=owner, name=name, query=query or "")
        _loop_check(collection)  # a loop through collections named in the search rolls the creation back
    return collection


def collection_update_checked(
    *, collection: Collection, name: str | None = None, query: str | None = None
) -> Collection:
    if query is not None and collection.is_smart:
        query = collection_query_check(query, owner=collection.owner, collection=collection)
    with transaction.atomic():
        collection = collection_update(collection=collection, name=name, query=query)
        # A rename can close a loop too: smart collections elsewhere may name the new name.
        for smart in Collection.objects.filter(owner_id=collection.owner_id).exclude(query=""):
            try:
                _loop_check(smart)
            except QueryError as error:
                raise CollectionInvalid(
                    f"After this change the smart collection “{smart.name}” would include itself "
                    f"({error.message}); choose another name or search.", field="name", code="collection_loop",
                ) from None
    return collection


@dataclass(frozen=True)
class CollectionSummary:
    collection: Collection
    count: int | None  # None: a smart collection whose search cannot run (``problem`` says why)
    problem: str = ""
    cover: Asset | None = None


def collection_members(collection: Collection) -> QuerySet[Asset]:
    """The collection's images now; for a broken smart search, none (``collection_problem`` says why)."""
    try:
        return collection_assets(collection)
    except QueryError:
        return Asset.objects.none()


def collection_problem(collection: Collection) -> str:
    try:
        collection_assets(collection)
    except QueryError as error:
        return error.message
    return ""


def collection_summaries(collections: list[Collection], *, covers: bool = False) -> list[CollectionSummary]:
    """Each collection with its number of images (and, with ``covers``, its newest image)."""
    counts = manual_counts(collections)
    summaries = []
    for collection in collections:
        try:
            members = collection_assets(collection)
        except QueryError as error:
            summaries.append(CollectionSummary(collection, None, error.message))
            continue
        count = counts.get(collection.pk, 0) if not collection.is_smart else members.count()
        cover = members.first() if covers and count else None
        summaries.append(CollectionSummary(collection, count, cover=cover))
    return summaries
