"""One FilterSet for the library page, the asset API and the label facets.

The ``q`` text and the structured parameters (``label=``, ``min_confidence=``, dates, ...) are
turned into one query tree, so every filter means the same thing wherever it is used. The
database work is in ``search.selectors``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from albums.models import Collection
from media.models import Asset, TaggingStatus
from search.nodes import (
    And,
    AnyTag,
    Compare,
    DateRange,
    Favorite,
    FieldEquals,
    FilenameMatch,
    LabelTerm,
    Node,
    Not,
    positive_labels,
)
from search.query import QueryError
from search.selectors import SORTS, assets_find, collection_node, labels_resolve, query_parse
from search.syntax import FORMATS, MAX_COUNT, MAX_YEAR, MIN_YEAR
from search.wildcards import MAX_FILENAME_PATTERN
from tagging.labels import normalize_label
from tagging.models import DetectionSource

MAX_LABEL_PARAMS = 20


class IntegerFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


class AssetFilterForm(forms.Form):
    """Validates the parameters and builds the query tree (``search_query``) from them."""

    # The searcher's assets (AssetFilter sets them): labels resolve against what is on them. And the
    # searcher, when there is a request: collection names and ids resolve among their collections.
    assets: QuerySet[Asset]
    owner: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.query_error: QueryError | None = None
        self.q_query: Node | None = None
        self.search_query: Node | None = None

    def clean_q(self) -> str:
        text = self.cleaned_data.get("q") or ""
        try:
            self.q_query = query_parse(text, assets=self.assets, owner=self.owner)
        except QueryError as error:
            self.query_error = error
            # User text goes in as a parameter: django-filter %-formats messages for the API.
            raise ValidationError("%(message)s", code="invalid_query", params={"message": error.message}) from None
        return text

    def _labels(self, name: str) -> list[str]:
        names = [normalize_label(part) for part in (self.cleaned_data.get(name) or "").split(",")]
        names = [part for part in names if part]
        if len(names) > MAX_LABEL_PARAMS:
            raise ValidationError(f"Give at most {MAX_LABEL_PARAMS} labels.", code="too_many_labels")
        return labels_resolve(names, assets=self.assets)

    def clean_collection(self) -> Node | None:
        key = self.cleaned_data.get("collection")
        if key is None:
            return None
        owners = [self.owner.pk] if self.owner is not None else self.assets.order_by().values("owner_id")
        collection = Collection.objects.filter(pk=key, owner_id__in=owners).select_related("owner").first()
        if collection is None:
            raise ValidationError("No collection with this id among yours.", code="not_found")
        try:
            return collection_node(collection, assets=self.assets)
        except QueryError as error:
            raise ValidationError("%(message)s", code="invalid_query", params={"message": error.message}) from None

    def clean_label(self) -> list[str]:
        return self._labels("label")

    def clean_exclude_label(self) -> list[str]:
        return self._labels("exclude_label")

    def clean_image_format(self) -> str:
        value = (self.cleaned_data.get("image_format") or "").strip().lower()
        if value and value not in FORMATS:
            raise ValidationError(
                "Unknown format '%(value)s': use %(choices)s.",
                code="invalid_choice",
                params={"value": value, "choices": ", ".join(sorted(FORMATS))},
            )
        return FORMATS.get(value, "")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for field in ("uploaded_after", "uploaded_before", "taken_after", "taken_before"):
            day = data.get(field)
            if day is not None and not MIN_YEAR <= day.year <= MAX_YEAR:
                self.add_error(field, f"Give a date between {MIN_YEAR} and {MAX_YEAR}.")  # drops it from data
        for start, end in (("uploaded_after", "uploaded_before"), ("taken_after", "taken_before")):
            if data.get(start) and data.get(end) and data[start] > data[end]:
                self.add_error(end, f"{end} is earlier than {start}.")
        if self.errors:
            return data
        self.search_query = search_query_from(data, q_query=self.q_query)
        if data.get("sort") == "confidence" and not positive_labels(self.search_query):
            self.add_error("sort", "Sorting by confidence needs a label: search for one (dog) or add label=dog.")
        return data


def search_query_from(data: dict[str, Any], *, q_query: Node | None) -> Node | None:
    """The search box query AND-ed with what the structured parameters ask for."""
    parts: list[Node] = [q_query] if q_query is not None else []
    if data.get("collection") is not None:
        parts.append(data["collection"])
    min_confidence = float(data["min_confidence"]) if data.get("min_confidence") is not None else None
    min_count = data.get("min_count")
    confidence = (Compare(">=", min_confidence),) if min_confidence is not None else ()
    count = Compare(">=", min_count) if min_count is not None else None
    labels = data.get("label") or []
    # min_confidence / min_count qualify each label= ; without one they ask for any label.
    parts += [LabelTerm(label=label, count=count, confidence=confidence) for label in labels]
    if not labels and (min_confidence is not None or min_count is not None):
        parts.append(AnyTag(min_confidence=min_confidence, min_count=min_count))
    parts += [Not(LabelTerm(label=label)) for label in data.get("exclude_label") or []]
    for field in ("uploaded", "taken"):
        after: date | None = data.get(f"{field}_after")
        before: date | None = data.get(f"{field}_before")
        if after or before:
            # Both ends are whole days and inclusive: after=2024-01-01&before=2024-01-31 is January.
            parts.append(DateRange(field=field, start=after, end=before + timedelta(days=1) if before else None))
    for field, key in (("status", "status"), ("source", "source"), ("format", "image_format")):
        if data.get(key):
            parts.append(FieldEquals(field=field, value=data[key]))  # type: ignore[arg-type]
    if data.get("filename"):
        parts.append(FilenameMatch(pattern=data["filename"]))
    if data.get("favorite") is not None:
        parts.append(Favorite() if data["favorite"] else Not(Favorite()))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else And(tuple(parts))


class AssetFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label="Search",
        help_text="Query language, e.g. `(cat OR dog) -person`, `person>=3`, `dog@0.8 dog:big uploaded:2024`. "
        "See docs/search.md.",
    )
    label = django_filters.CharFilter(help_text="Comma-separated labels the asset must all have.")
    exclude_label = django_filters.CharFilter(help_text="Comma-separated labels the asset must not have.")
    min_confidence = extend_schema_field(OpenApiTypes.FLOAT)(
        django_filters.NumberFilter(
            min_value=0,
            max_value=1,
            help_text="Each `label` has an object at least this confident (0-1); without `label`, any label does.",
        )
    )
    min_count = extend_schema_field(OpenApiTypes.INT)(
        IntegerFilter(
            min_value=1,
            max_value=MAX_COUNT,
            help_text="Each `label` has at least this many objects; without `label`, any label does.",
        )
    )
    uploaded_after = django_filters.DateFilter(help_text="Uploaded on or after this day (YYYY-MM-DD).")
    uploaded_before = django_filters.DateFilter(help_text="Uploaded on or before this day.")
    taken_after = django_filters.DateFilter(help_text="Taken (EXIF date) on or after this day.")
    taken_before = django_filters.DateFilter(help_text="Taken on or before this day.")
    status = django_filters.ChoiceFilter(choices=TaggingStatus.choices, help_text="Tagging status.")
    source = django_filters.ChoiceFilter(
        choices=DetectionSource.choices, help_text="Has a detection from this source (rejected ones do not count)."
    )
    # Not "format": DRF reads ?format= to choose the response renderer.
    image_format = django_filters.CharFilter(
        help_text="Image format: jpeg, png, webp, gif, tiff or heif (jpg, tif, heic)."
    )
    filename = django_filters.CharFilter(
        max_length=MAX_FILENAME_PATTERN,
        help_text=f"Part of the uploaded file name; * and ? are wildcards (at most {MAX_FILENAME_PATTERN} characters).",
    )
    collection = django_filters.UUIDFilter(
        help_text="Only images in this collection of yours (its id); a smart collection's search runs now."
    )
    favorite = django_filters.BooleanFilter(help_text="true: only images with a heart; false: only those without.")
    sort = django_filters.ChoiceFilter(
        choices=list(SORTS.items()),
        help_text="newest (default), oldest, taken (timeline: date taken, else uploaded, newest first), "
        "confidence (of the first label asked for), objects (most first).",
    )

    class Meta:
        model = Asset
        fields: list[str] = []
        form = AssetFilterForm

    @property
    def form(self) -> AssetFilterForm:
        form = super().form
        form.assets = self.queryset
        user = getattr(self.request, "user", None)
        form.owner = user if user is not None and user.is_authenticated else None
        return form

    @property
    def query_error(self) -> QueryError | None:
        self.is_valid()
        return self.form.query_error

    @property
    def search_query(self) -> Node | None:
        """The whole search as one tree; only meaningful when the filterset is valid."""
        return self.form.search_query if self.is_valid() else None

    @property
    def sort_order(self) -> str:
        return (self.form.cleaned_data.get("sort") if self.is_valid() else "") or "newest"

    def filter_queryset(self, queryset):  # type: ignore[no-untyped-def]
        if not self.is_valid():
            return queryset.none()
        query = self.search_query
        return assets_find(assets=queryset, query=query, sort=self.sort_order)
