"""Reads for search: run a parsed query against the user's assets, sort, count labels (facets).

Every query starts from ``assets_visible_to``. Label conditions become ``EXISTS`` subqueries on the
per-asset summary (AssetTag), so PostgreSQL answers them from the (label, asset) indexes instead of
scanning detections; see docs/search.md for the plans and timings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import partial
from typing import Any, Literal

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Exists, F, FilteredRelation, FloatField, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from albums.models import Collection, CollectionItem
from albums.selectors import collections_named
from assetsite.pagination import KeysetPart, keyset_parts_set
from media.models import Asset
from media.selectors import assets_visible_to
from search.labels import SYNONYMS, label_candidates
from search.nodes import (
    And,
    AnyTag,
    Compare,
    DateMissing,
    DateRange,
    Favorite,
    FieldEquals,
    FilenameMatch,
    InCollection,
    LabelTerm,
    Node,
    Not,
    Or,
    moment_labels,
    positive_labels,
    required_labels,
    walk_deep,
)
from search.query import CollectionRef, QueryError, parse_query
from search.timeline import timeline_date
from search.wildcards import filename_q
from tagging.coco_categories import COCO_LABELS
from tagging.label_counts import label_counts_available, label_counts_of, label_pairs_of
from tagging.labels import normalize_label
from tagging.models import AssetTag, Detection, Label, ReviewState, Track

Sort = Literal["newest", "oldest", "taken", "confidence", "objects"]
SORTS: dict[str, str] = {
    "newest": "Newest first",
    "oldest": "Oldest first",
    "taken": "Timeline (date taken)",
    "confidence": "Confidence of the label",
    "objects": "Number of objects",
}
MAX_FACETS = 200
# Facets of a search count the tags of at most this many matches (+1, a sample); past it they are lower
# bounds ("at least"), so their cost stops growing with the library (docs/search.md, "Ten million").
FACET_SAMPLE = 2_000
# The library page's "N images" counts exactly up to here, then says "more than 1,000" (at 10M detections
# counting to 10,000 took 0.3 s for broad searches).
COUNT_LIMIT = 1_000

_LOOKUPS = {"=": "exact", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}


# --- parsing with the user's labels ------------------------------------------------------------


def label_vocabulary(candidates: set[str], *, assets: QuerySet[Asset]) -> set[str]:
    """Which of these names are labels for whoever owns ``assets``: COCO's plus those on their pictures.

    Never the whole Label table: how a word resolves (and whether the page says "no such label")
    must not reveal the labels other people typed.
    """
    if not candidates:
        return set()
    on_assets = AssetTag.objects.filter(label_id=OuterRef("pk"), asset__in=assets.order_by().values("pk"))
    stored = Label.objects.filter(name__in=candidates).filter(Exists(on_assets)).values_list("name", flat=True)
    return (candidates & COCO_LABELS) | set(stored)


def _owners(assets: QuerySet[Asset], owner: AbstractBaseUser | AnonymousUser | None) -> Any:
    """Whose collections a search may name: the searcher's (or, without one, whoever owns ``assets``)."""
    if owner is not None:
        return [owner.pk] if owner.is_authenticated else []
    return assets.order_by().values("owner_id")


def collection_refs(
    names: set[str], *, assets: QuerySet[Asset], owner: AbstractBaseUser | AnonymousUser | None = None
) -> dict[str, CollectionRef]:
    found = collections_named(names, owners=_owners(assets, owner))
    return {key: CollectionRef(id=str(c.pk), name=c.name, query=c.query) for key, c in found.items()}


def query_parse(
    text: str, *, assets: QuerySet[Asset], owner: AbstractBaseUser | AnonymousUser | None = None
) -> Node | None:
    """Parse search box text with the vocabulary and collections of the searcher (``owner``, else whoever
    owns ``assets``). Raises QueryError."""
    return parse_query(
        text,
        vocabulary=lambda names: label_vocabulary(names, assets=assets),
        today=timezone.localdate(),
        collections=lambda names: collection_refs(names, assets=assets, owner=owner),
    )


def collection_node(collection: Collection, *, assets: QuerySet[Asset]) -> InCollection:
    """The search condition "in this collection" (``assets`` are its owner's). Raises QueryError when a smart
    collection's search cannot be run any more (a collection it names was renamed into a loop, say)."""
    if not collection.is_smart:
        return InCollection(name=collection.name, collection_id=str(collection.pk))
    smart = query_parse(collection.query, assets=assets, owner=collection.owner)
    if smart is not None and any(
        isinstance(item, InCollection) and item.collection_id == str(collection.pk) for item in walk_deep(smart)
    ):
        raise QueryError(f"The smart collection “{collection.name}” includes itself through its search.", 0, "")
    return InCollection(name=collection.name, collection_id=str(collection.pk), smart=smart)


def collection_assets(collection: Collection) -> QuerySet[Asset]:
    """The collection's images now (its owner's, not trashed), newest first. Raises QueryError (see above)."""
    assets = assets_visible_to(collection.owner)
    return assets_filter(assets=assets, query=collection_node(collection, assets=assets)).order_by(
        "-created_at", "-id"
    )


def collection_query_check(text: str, *, owner: AbstractBaseUser, collection: Collection | None = None) -> str:
    """A smart collection's search, checked: it parses for ``owner`` and does not include the collection
    itself (``collection`` when renaming or changing one; its new name counts). Raises QueryError."""
    text = " ".join((text or "").split())
    if not text:
        raise QueryError("A smart collection needs a search, like dog is:favorite.", 0, "")
    node = query_parse(text, assets=assets_visible_to(owner), owner=owner)
    if collection is not None and any(
        isinstance(item, InCollection) and item.collection_id == str(collection.pk) for item in walk_deep(node)
    ):
        raise QueryError(f"The search names this collection (“{collection.name}”) itself.", 0, "")
    return text


def labels_resolve(names: Sequence[str], *, assets: QuerySet[Asset]) -> list[str]:
    """Structured ``label=`` values resolved like query words (``dogs`` -> ``dog``)."""
    wanted = {candidate for name in names for candidate in label_candidates(name)}
    known = label_vocabulary(wanted, assets=assets)
    resolved = []
    for name in names:
        candidates = label_candidates(name)
        resolved.append(next((c for c in candidates if c in known), candidates[0] if candidates else ""))
    return [name for name in dict.fromkeys(resolved) if name]


# --- compiling a query --------------------------------------------------------------------------


def _label_ids(query: Node | None) -> dict[str, int]:
    names = {item.label for item in walk_deep(query) if isinstance(item, LabelTerm)}
    if not names:
        return {}
    return dict(Label.objects.filter(name__in=names).values_list("name", "id"))


def _compare(field: str, compare: Compare) -> Q:
    if compare.op == "!=":
        return ~Q(**{field: compare.value})
    return Q(**{f"{field}__{_LOOKUPS[compare.op]}": compare.value})


def _everything() -> Q:
    # Not Q(): an empty Q negates to an empty Q, which would make NOT(everything) match everything.
    return Q(pk__isnull=False)


def _nothing() -> Q:
    return Q(pk__in=[])


def _tags(label_id: int) -> QuerySet[AssetTag]:
    # owner_id repeats what asset_id implies; with it PostgreSQL can start from the user's rows of
    # the (owner, label, ...) index when the label is rare, instead of probing asset by asset.
    return AssetTag.objects.filter(asset_id=OuterRef("pk"), owner_id=OuterRef("owner_id"), label_id=label_id)


def _tag_conditions(term: LabelTerm, label_id: int) -> Q:
    """What one summary row must satisfy for ``term`` (a label that has to be present)."""
    condition = Q(label_id=label_id)
    if term.count is not None:
        condition &= _compare("count", term.count)
    for compare in term.confidence:
        condition &= _compare("confidence", compare)
    for compare in term.area:
        condition &= _compare("max_area", compare)
    return condition


def _label_q(term: LabelTerm, label_ids: dict[str, int]) -> Q:
    label_id = label_ids.get(term.label)
    if term.counts_absence:
        assert term.count is not None
        # "car=0", "dog<2": no summary row may break the count; an absent label has count 0.
        breaking = term.count.negated()
        if label_id is None or not any(breaking.accepts(n) for n in (1, 2, breaking.value, breaking.value + 1)):
            return _everything()
        return ~Q(Exists(_tags(label_id).filter(_compare("count", breaking))))
    if label_id is None:
        return _nothing()
    return Q(Exists(_tags(label_id).filter(_tag_conditions(term, label_id))))


def _or_q(items: tuple[Node, ...], label_ids: dict[str, int]) -> Q:
    # "cat OR dog@0.8 OR horse" is one EXISTS over the summary with the conditions OR-ed inside:
    # PostgreSQL turns that into a single semi-join, where OR-ed EXISTS would each be a subplan.
    present = [
        item for item in items if isinstance(item, LabelTerm) and not item.counts_absence and item.label in label_ids
    ]
    result = _nothing()
    if len(present) > 1:
        inside = Q(pk__in=[])
        for term in present:
            inside |= _tag_conditions(term, label_ids[term.label])
        tags = AssetTag.objects.filter(asset_id=OuterRef("pk"), owner_id=OuterRef("owner_id")).filter(inside)
        result |= Q(Exists(tags))
    else:
        present = []
    for item in items:
        if not any(item is term for term in present):
            result |= _to_q(item, label_ids)
    return result


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def _to_q(node: Node, label_ids: dict[str, int]) -> Q:
    if isinstance(node, And):
        parts = [_to_q(item, label_ids) for item in node.items] or [_everything()]
        result = parts[0]
        for part in parts[1:]:
            result &= part
        return result
    if isinstance(node, Or):
        return _or_q(node.items, label_ids)
    if isinstance(node, Not):
        return ~_to_q(node.item, label_ids)
    if isinstance(node, LabelTerm):
        return _label_q(node, label_ids)
    if isinstance(node, AnyTag):
        tags = AssetTag.objects.filter(asset_id=OuterRef("pk"))
        if node.min_confidence is not None:
            tags = tags.filter(confidence__gte=node.min_confidence)
        if node.min_count is not None:
            tags = tags.filter(count__gte=node.min_count)
        return Q(Exists(tags))
    if isinstance(node, DateRange):
        column = "created_at" if node.field == "uploaded" else "taken_at"
        bounds = {}
        if node.start is not None:
            bounds[f"{column}__gte"] = _start_of(node.start)
        if node.end is not None:
            bounds[f"{column}__lt"] = _start_of(node.end)
        return Q(**bounds) if bounds else _everything()
    if isinstance(node, DateMissing):
        return Q(taken_at__isnull=True)
    if isinstance(node, FieldEquals):
        if node.field == "status":
            return Q(tagging_status=node.value)
        if node.field == "format":
            return Q(format=node.value)
        if node.field == "kind":
            return Q(kind=node.value)
        # A rejected detection is not a tag, so it does not make an asset "manual" or "auto".
        detections = Detection.objects.filter(asset_id=OuterRef("pk"), source=node.value).exclude(
            review=ReviewState.REJECTED
        )
        return Q(Exists(detections))
    if isinstance(node, FilenameMatch):
        return filename_q(node.pattern)
    if isinstance(node, Favorite):
        return Q(favorite=True)
    if isinstance(node, InCollection):
        if node.collection_id is None:
            return _nothing()
        if node.smart is not None:
            return _to_q(node.smart, label_ids)
        # A smart collection whose search is empty cannot exist; without one this is a manual collection.
        return Q(Exists(CollectionItem.objects.filter(collection_id=node.collection_id, asset_id=OuterRef("pk"))))
    raise TypeError(f"cannot search for {node!r}")


def assets_filter(*, assets: QuerySet[Asset], query: Node | None) -> QuerySet[Asset]:
    """``assets`` (already scoped to a user) narrowed to those matching ``query``."""
    if query is None:
        return assets
    return assets.filter(_to_q(query, _label_ids(query)))


def assets_sort(
    *, assets: QuerySet[Asset], sort: str, label: str | None = None, label_required: bool = False
) -> QuerySet[Asset]:
    """Order for display and keyset paging; every ordering ends in the unique id.

    ``label_required`` says every asset in ``assets`` has ``label`` (the query demands it), which
    allows sorting by confidence through a join that the (owner, label, confidence) index feeds
    in order, instead of computing a subquery for every match.
    """
    if sort == "oldest":
        return assets.order_by("created_at", "id")
    if sort == "taken":
        # The (owner, timeline date, id) expression index gives this order; see search/timeline.py.
        return assets.annotate(sort_date=timeline_date()).order_by("-sort_date", "-id")
    if sort == "confidence":
        label_id = Label.objects.filter(name=label).values_list("id", flat=True).first() if label else None
        if label_id is not None and label_required:
            # One summary row per (asset, label): the join adds no duplicates. The owner condition
            # lets the (owner, label, confidence) index deliver the rows already in order.
            joined = assets.filter(tags__label_id=label_id, tags__owner_id=F("owner_id")).annotate(
                sort_confidence=F("tags__confidence")
            )
            return joined.order_by("-sort_confidence", "-created_at", "-id")
        if label_id is None:
            best: Any = Value(-1.0)
        else:
            # One LEFT JOIN to the label's summary row (not a subquery per match); -1 for assets
            # without the label (possible under OR), so they sort last, never NULL.
            assets = assets.annotate(
                sort_tag=FilteredRelation("tags", condition=Q(tags__label_id=label_id, tags__owner_id=F("owner_id")))
            )
            best = Coalesce(F("sort_tag__confidence"), Value(-1.0), output_field=FloatField())
        ordered = assets.annotate(sort_confidence=best).order_by("-sort_confidence", "-created_at", "-id")
        return ordered if label_id is None else keyset_parts_set(ordered, partial(_confidence_parts, label_id=label_id))
    if sort == "objects":
        # Kept on the asset by tags_rebuild, so the (owner, objects, created, id) index gives the order.
        return assets.order_by("-object_count", "-created_at", "-id")
    return assets.order_by("-created_at", "-id")


def _confidence_parts(assets: QuerySet[Asset], *, label_id: int) -> list[KeysetPart]:
    """A page of a search sorted by a label it does not require, read in two parts: the pictures with
    the label by its confidence (the (owner, label, confidence) index gives that order), then the
    others newest first (the newest-first index). Ranked as a whole, every match would be read to
    sort on ``COALESCE(confidence, -1)``, which no index holds."""
    with_label = assets.filter(tags__label_id=label_id, tags__owner_id=F("owner_id")).annotate(
        sort_confidence=F("tags__confidence")
    )
    labelled = AssetTag.objects.filter(asset_id=OuterRef("pk"), owner_id=OuterRef("owner_id"), label_id=label_id)
    without = assets.filter(~Exists(labelled)).annotate(sort_confidence=Value(-1.0, output_field=FloatField()))
    return [KeysetPart(with_label), KeysetPart(without, first_value=-1.0)]


def assets_search(
    *, user: AbstractBaseUser | AnonymousUser, query: Node | None, sort: str = "newest"
) -> QuerySet[Asset]:
    """The user's assets matching ``query``, in ``sort`` order (confidence: of the first label asked for)."""
    return assets_find(assets=assets_visible_to(user), query=query, sort=sort)


def assets_find(*, assets: QuerySet[Asset], query: Node | None, sort: str) -> QuerySet[Asset]:
    """``assets`` (already scoped to a user) filtered by ``query`` and sorted."""
    labels = positive_labels(query)
    label = labels[0] if labels else None
    required = label in required_labels(query)
    if sort == "confidence" and required:
        # The sort joins the label's summary row, which already demands the label: a bare
        # top-level term for it would only add a second, order-breaking join.
        query = _without_bare_term(query, label)
    return assets_sort(
        assets=assets_filter(assets=assets, query=query), sort=sort, label=label, label_required=required
    )


def _is_bare(item: Node) -> bool:
    """A label asked for with no condition on its count, confidence or size."""
    return isinstance(item, LabelTerm) and item == LabelTerm(label=item.label, known=item.known, span=item.span)


def bare_label_id(query: Node | None) -> int | None:
    """The label's id when the whole search is one known label with no condition (``dog``), else None:
    such searches are answered from the summaries."""
    if not isinstance(query, LabelTerm) or not _is_bare(query):
        return None
    return _label_ids(query).get(query.label)


def _without_bare_term(query: Node | None, label: str | None) -> Node | None:
    def bare(item: Node) -> bool:
        return isinstance(item, LabelTerm) and item.label == label and _is_bare(item)

    if query is not None and bare(query):
        return None
    if isinstance(query, And):
        kept = tuple(item for item in query.items if not bare(item))
        return None if not kept else kept[0] if len(kept) == 1 else And(kept)
    return query


# --- facets -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Facet:
    label: str
    count: int
    # False: counted in a sample of FACET_SAMPLE + 1 matches only, so at least this many.
    exact: bool = True


@dataclass(frozen=True)
class ResultCount:
    """How many assets a search matches: ``value`` exactly, or (``exact`` False) more than ``value``."""

    value: int
    exact: bool = True


def label_facets(
    *,
    user: AbstractBaseUser | AnonymousUser,
    query: Node | None,
    prefix: str = "",
    limit: int = 30,
    sample: int | None = None,
) -> list[Facet]:
    """How many of the user's assets matching ``query`` carry each label, most common first.

    With ``prefix`` only labels starting with it (or with a synonym or plural starting with it)
    are counted: that is the autocomplete. The whole library and one-label searches read the
    summaries (exact); other searches with more than ``sample`` (FACET_SAMPLE) matches count the
    first ``sample + 1`` the database finds, and their facets say ``exact=False`` (lower bounds).
    """
    if not user.is_authenticated:
        return []
    sample = FACET_SAMPLE if sample is None else sample
    word = normalize_label(prefix)
    counts = _summary_counts(user=user, query=query)
    exact = True
    if counts is None:
        counts, sampled = _sampled_counts(user=user, query=query, word=word, sample=sample)
        exact = sampled <= sample
    elif word:
        wanted = _labels_with_prefix(word, ids=counts)
        counts = {pk: n for pk, n in counts.items() if pk in wanted}
    return _facets(counts, limit=limit, exact=exact)


def _sampled_counts(
    *, user: AbstractBaseUser, query: Node | None, word: str, sample: int
) -> tuple[dict[int, int], int]:
    """Label id -> how many of (at most) ``sample + 1`` matches carry it, and how many matches that was.

    One statement: the first ``sample + 1`` match ids the plan reaches (no ORDER BY, so PostgreSQL picks
    the cheapest way to find them) are materialised once, counted, and their tags grouped by label.
    """
    matching = assets_filter(assets=assets_visible_to(user), query=query).order_by().values("pk")[: sample + 1]
    try:
        match_sql, match_params = matching.query.sql_with_params()
    except EmptyResultSet:  # a query that matches nothing by construction (an unknown label)
        return {}, 0
    # owner_id repeats what the ids guarantee; it lets PostgreSQL read only this user's index entries.
    tags = AssetTag.objects.filter(owner_id=user.pk)
    if word:
        tags = tags.filter(label_id__in=Label.objects.filter(_prefix_q(word, field="name")).values("pk"))
    tag_sql, tag_params = tags.order_by().values("label_id").query.sql_with_params()
    table = AssetTag._meta.db_table
    sql = (
        f"WITH sample AS MATERIALIZED ({match_sql}) "
        f"SELECT NULL, (SELECT count(*) FROM sample) "
        f"UNION ALL "
        f"SELECT found.label_id, count(*) FROM ({tag_sql} AND {table}.asset_id IN (SELECT * FROM sample)) found "
        f"GROUP BY found.label_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, (*match_params, *tag_params))
        rows = cursor.fetchall()
    sampled = next(n for label_id, n in rows if label_id is None)
    return {label_id: n for label_id, n in rows if label_id is not None}, sampled


def _summary_counts(*, user: AbstractBaseUser, query: Node | None) -> dict[int, int] | None:
    """Label id -> matching assets from the trigger-kept summaries (tagging/label_counts.py), for the
    whole library and for one bare label; None for other searches (or without the summaries)."""
    if not label_counts_available():
        return None
    if query is None:
        return label_counts_of(owner_id=user.pk)
    if (label_id := bare_label_id(query)) is not None:
        # Its pictures' other labels come from the pair summary; the label itself counts all of them.
        counts = label_pairs_of(owner_id=user.pk, label_id=label_id)
        total = label_counts_of(owner_id=user.pk).get(label_id)
        if total:
            counts[label_id] = total
        return counts
    return None


def results_count(
    *, user: AbstractBaseUser | AnonymousUser, query: Node | None, limit: int | None = None
) -> ResultCount:
    """How many of the user's assets match ``query``: exact for one bare label (the label summary) and
    up to ``limit`` (COUNT_LIMIT); past it "more than ``limit``", so a broad search does not count
    100,000s of rows."""
    if not user.is_authenticated:
        return ResultCount(0)
    limit = COUNT_LIMIT if limit is None else limit
    if label_counts_available() and isinstance(query, LabelTerm) and _is_bare(query):
        label_id = bare_label_id(query)
        return ResultCount(label_counts_of(owner_id=user.pk).get(label_id, 0) if label_id is not None else 0)
    matching = assets_filter(assets=assets_visible_to(user), query=query)
    found = matching.order_by()[: limit + 1].count()
    return ResultCount(limit, exact=False) if found > limit else ResultCount(found)


def _prefix_q(word: str, *, field: str) -> Q:
    # Synonyms and plurals only from three letters on: "c" would match half the synonym table.
    also = set(label_candidates(word)) if len(word) >= 3 else set()
    also.update(target for name, target in SYNONYMS.items() if len(word) >= 3 and name.startswith(word))
    return Q(**{f"{field}__startswith": word}) | Q(**{f"{field}__in": also})


def _labels_with_prefix(word: str, *, ids: dict[int, int]) -> set[int]:
    labels = Label.objects.filter(pk__in=list(ids)).filter(_prefix_q(word, field="name"))
    return set(labels.values_list("pk", flat=True))


def _facets(counts: dict[int, int], *, limit: int, exact: bool = True) -> list[Facet]:
    names = dict(Label.objects.filter(pk__in=counts).values_list("id", "name"))
    facets = sorted((Facet(label=names[pk], count=count, exact=exact) for pk, count in counts.items() if pk in names),
                    key=lambda facet: (-facet.count, facet.label))  # fmt: skip
    return facets[: max(1, min(limit, MAX_FACETS))]


def first_moments(*, assets: Sequence[Asset], query: Node | None) -> dict[Any, float]:
    """For the videos among ``assets``: when the first track of a label the search asks for starts
    (tracks that meet the term's confidence condition, rejected ones left out), so a hit opens there."""
    wanted = moment_labels(query)
    videos = [asset.pk for asset in assets if asset.is_video]
    if not wanted or not videos:
        return {}
    found: dict[Any, float] = {}
    tracks = (
        Track.objects.filter(asset_id__in=videos, label__name__in=list(wanted))
        .exclude(review=ReviewState.REJECTED)
        .values_list("asset_id", "label__name", "start", "confidence")
    )
    for asset_id, label, start, confidence in tracks:
        if all(condition.accepts(confidence) for condition in wanted[label]):
            found[asset_id] = min(found.get(asset_id, start), start)
    return found
