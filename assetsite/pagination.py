"""Paging for lists that grow while people read them: cursors hold the sort key of the edge row, not an offset.

``keyset_page`` pages any queryset whose ordering ends in the id (the library page and the API's search
results use it with every sort); ``KeysetCursorPagination`` is the same for DRF views.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone
from rest_framework.pagination import BasePagination, CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from assetsite.api import ApiError

MAX_CURSOR_LENGTH = 2000

class InvalidCursor(ValueError):
    pass


@dataclass(frozen=True)
class KeysetPage:
    items: list[Any]
    next_cursor: str | None
    previous_cursor: str | None


def _ordering(queryset: QuerySet) -> list[str]:
    ordering = [str(field) for field in (queryset.query.order_by or queryset.model._meta.ordering)]
    if not ordering or ordering[-1].lstrip("-") not in {"id", "pk"}:
        raise ValueError(f"keyset paging needs an ordering that ends in the id, not {ordering}")
    return ordering


def _output_field(queryset: QuerySet, name: str) -> Any:
    if name in queryset.query.annotations:
        return queryset.query.annotations[name].output_field
    return queryset.model._meta.pk if name == "pk" else queryset.model._meta.get_field(name)


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _encode(ordering: list[str], item: Any, *, backwards: bool) -> str:
    values = [_encode_value(getattr(item, field.lstrip("-"))) for field in ordering]
    payload = json.dumps({"o": ordering, "v": values, "b": backwards}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _decode(queryset: QuerySet, ordering: list[str], cursor: str) -> tuple[list[Any], bool]:
    invalid = InvalidCursor("This page link is invalid or belongs to another sort order; start from the first page.")
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise invalid
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid from None
    if not isinstance(payload, dict) or payload.get("o") != ordering or not isinstance(payload.get("b"), bool):
        raise invalid
    raw = payload.get("v")
    if not isinstance(raw, list) or len(raw) != len(ordering):
        raise invalid
    values = []
    for field, value in zip(ordering, raw, strict=True):
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise invalid
        try:
            parsed = _output_field(queryset, field.lstrip("-")).to_python(value)
        except (ValidationError, FieldDoesNotExist, TypeError, ValueError, OverflowError):
            raise invalid from None
        if parsed is None or (isinstance(parsed, float) and parsed != parsed):  # NaN never equals itself
            raise invalid
        if isinstance(parsed, datetime) and timezone.is_naive(parsed):
            raise invalid
        values.append(parsed)
    return values, payload["b"]


def _beyond(ordering: list[str], values: list[Any], *, backwards: bool) -> Q:
    """Rows strictly after ``values`` in ``ordering`` (strictly before when ``backwards``)."""
    result = Q(pk__in=[])  # matches nothing; OR-ed with each tie-break below
    equal = Q(pk__isnull=False)  # matches everything; AND-ed with each equality
    for field, value in zip(ordering, values, strict=True):
        name = field.lstrip("-")
        descending = field.startswith("-") != backwards
        result |= equal & Q(**{f"{name}__{'lt' if descending else 'gt'}": value})
        equal &= Q(**{name: value})
    # The same bound on the first key alone, which an index on that key can use.
    first = ordering[0].lstrip("-")
    first_descending = ordering[0].startswith("-") != backwards
    return Q(**{f"{first}__{'lte' if first_descending else 'gte'}": values[0]}) & result


def keyset_cursor(*, queryset: QuerySet, values: list[Any]) -> str:
    """A forward cursor that starts a page just after ``values`` (one per field of the queryset's
    ordering): the timeline uses it to jump to a month."""
    ordering = _ordering(queryset)
    if len(values) != len(ordering):
        raise ValueError(f"{len(ordering)} values needed for {ordering}")
    payload = json.dumps(
        {"o": ordering, "v": [_encode_value(value) for value in values], "b": False}, separators=(",", ":")
    )
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


@dataclass(frozen=True)
class KeysetPart:
    """One part of a queryset paged in parts (``keyset_parts_set``). ``first_value``: the value every
    row of the part has for the first sort key, if it is one constant; the part is then paged on the
    remaining keys alone, which an index can follow."""

    queryset: QuerySet
    first_value: Any = None


def keyset_parts_set(queryset: QuerySet, split: Callable[[QuerySet], list[KeysetPart]]) -> QuerySet:
    """``queryset``, paged through the parts ``split`` makes of it when a page is read (so filters
    added later are in every part).

    For an order that no index gives for the whole, but one does for each part: ``split`` returns the
    same rows as parts whose rows all sort before the next part's, each with the same ordering
    names as the whole (one cursor serves every part). Other uses of the queryset see the whole.
    """
    queryset = queryset.all()
    queryset.query.keyset_parts = split  # type: ignore[attr-defined]  # Query.clone() keeps it
    return queryset


def _part_beyond(part: KeysetPart, ordering: list[str], values: list[Any], *, backwards: bool) -> QuerySet | None:
    """The part's rows after the cursor (before it when ``backwards``); None when there are none."""
    if part.first_value is None:
        return part.queryset.filter(_beyond(ordering, values, backwards=backwards))
    if values[0] == part.first_value:
        return part.queryset.filter(_beyond(ordering[1:], values[1:], backwards=backwards))
    descending = ordering[0].startswith("-") != backwards
    return part.queryset if (values[0] > part.first_value) == descending else None


def keyset_page(*, queryset: QuerySet, cursor: str | None, size: int) -> KeysetPage:
    """One page of an ordered queryset; cursors hold the sort key of an edge row, not an offset,
    so rows added or removed elsewhere do not shift later pages.
    """
    ordering = _ordering(queryset)
    backwards = False
    values: list[Any] = []
    if cursor:
        values, backwards = _decode(queryset, ordering, cursor)
    split = getattr(queryset.query, "keyset_parts", None)
    parts = split(queryset) if split is not None else [KeysetPart(queryset)]
    flipped = [field[1:] if field.startswith("-") else f"-{field}" for field in ordering]
    rows: list[Any] = []
    for part in reversed(parts) if backwards else parts:
        beyond = _part_beyond(part, ordering, values, backwards=backwards) if cursor else part.queryset
        if beyond is None:
            continue
        if backwards:
            beyond = beyond.order_by(*flipped)
        rows += list(beyond[: size + 1 - len(rows)])
        if len(rows) > size:
            break
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    if not rows:
        return KeysetPage(items=[], next_cursor=None, previous_cursor=None)
    has_next = more if not backwards else True
    has_previous = more if backwards else bool(cursor)
    return KeysetPage(
        items=rows,
        next_cursor=_encode(ordering, rows[-1], backwards=False) if has_next else None,
        previous_cursor=_encode(ordering, rows[0], backwards=True) if has_previous else None,
    )


class KeysetCursorPagination(BasePagination):
    """Keyset cursors over whatever order the search chose (see keyset_page).

    The cursor holds the sort key and id of the row at the page edge, so pages stay stable while
    new uploads arrive, whichever sort is used.
    """

    page_size = 50
    max_page_size = 200
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"

    def paginate_queryset(self, queryset: QuerySet, request: Request, view: Any = None) -> list[Any]:
        self.request = request
        size = self.page_size
        try:
            size = min(max(int(request.query_params.get(self.page_size_query_param, size)), 1), self.max_page_size)
        except ValueError:
            pass  # like DRF: an unreadable page_size gets the default
        try:
            self.page: KeysetPage = keyset_page(
                queryset=queryset, cursor=request.query_params.get(self.cursor_query_param), size=size
            )
        except InvalidCursor as error:
            raise ApiError(str(error), code="invalid_cursor") from None
        return self.page.items

    def _link(self, cursor: str | None) -> str | None:
        if cursor is None:
            return None
        url = self.request.build_absolute_uri()
        return replace_query_param(remove_query_param(url, self.cursor_query_param), self.cursor_query_param, cursor)

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "next": self._link(self.page.next_cursor),
                "previous": self._link(self.page.previous_cursor),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict) -> dict:
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "The `next` or `previous` link's cursor.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Results per page (1-{self.max_page_size}, default {self.page_size}).",
                "schema": {"type": "integer"},
            },
        ]


class NewestFirstCursorPagination(CursorPagination):
    """Newest first; a cursor stays valid while new uploads arrive."""

    ordering = ("-created_at", "-id")
    page_size_query_param = "page_size"
    max_page_size = 200
