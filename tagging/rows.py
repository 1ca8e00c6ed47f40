"""The worker's hot path in few round trips and little ORM work.

Per image the worker claims a row, then writes a run, its boxes and its tag summary. Through the ORM
each of those statements costs about a millisecond of query building on a small CPU, several times the
database's own time, and the detector waits for it. These helpers send the same SQL the ORM would send,
with every value prepared by its own field (``pre_save``, ``get_db_prep_save``), so both backends store
exactly what ``save()`` and ``bulk_create()`` store. Only the statements are written out here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

from media.models import Asset, AssetKind, TaggingStatus
from tagging.models import Detection, Label

M = TypeVar("M", bound=Model)


def _connection(model: type[Model]) -> BaseDatabaseWrapper:
    return connections[router.db_for_write(model)]


def _column(model: type[Model], name: str, connection: BaseDatabaseWrapper) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)  # type: ignore[union-attr]


def _value(model: type[Model], name: str, value: Any, connection: BaseDatabaseWrapper) -> Any:
    return model._meta.get_field(name).get_db_prep_save(value, connection)  # type: ignore[union-attr]


def insert_rows(objs: Sequence[M], *, returning_pk: bool = False) -> Sequence[M]:
    """INSERT unsaved instances of one model in one statement, as ``bulk_create`` would store them.

    ``returning_pk`` sets each instance's auto primary key from ``RETURNING`` (PostgreSQL and SQLite
    return the rows of a multi-row VALUES in order; ``bulk_create`` relies on the same).
    """
    if not objs:
        return objs
    model = type(objs[0])
    meta = model._meta
    connection = _connection(model)
    quote = connection.ops.quote_name
    fields = [field for field in meta.concrete_fields if field is not meta.auto_field]
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) "
        f"VALUES {', '.join([row] * len(objs))}"
    )
    params = [field.get_db_prep_save(field.pre_save(obj, add=True), connection) for obj in objs for field in fields]
    returning = returning_pk and meta.auto_field is not None
    if returning:
        sql += f" RETURNING {quote(meta.auto_field.column)}"  # type: ignore[union-attr]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if returning:
            for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
                obj.pk = pk
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias
    return objs


def asset_claim(*, asset_id: uuid.UUID | str, task_id: str, now: datetime) -> Asset | None:
    """Claim a live pending asset (or re-claim one this task holds) and read it back, in one statement.

    The same rule as an ORM ``update()`` followed by a ``get()``: attempts count up by one and the
    claim is committed at once (autocommit), so the sweeper sees it even if the worker dies next.
    """
    connection = _connection(Asset)
    quote = connection.ops.quote_name

    def column(name: str) -> str:
        return _column(Asset, name, connection)

    status, task, attempts = column("tagging_status"), column("tagging_task_id"), column("tagging_attempts")
    sql = (
        f"UPDATE {quote(Asset._meta.db_table)} SET {status} = %s, {task} = %s, {column('tagging_started_at')} = %s, "
        f"{attempts} = {attempts} + 1, {column('updated_at')} = %s "
        f"WHERE {column('id')} = %s AND {column('trashed_at')} IS NULL "
        f"AND ({status} = %s OR ({status} = %s AND {task} = %s)) "
        f"RETURNING {', '.join(quote(field.column) for field in Asset._meta.concrete_fields)}"
    )
    stamp = _value(Asset, "updated_at", now, connection)
    params = [
        TaggingStatus.PROCESSING.value, task_id, stamp, stamp, _value(Asset, "id", asset_id, connection),
        TaggingStatus.PENDING.value, TaggingStatus.PROCESSING.value, task_id,
    ]
    # raw() turns the returned row into an Asset with each field's converters, as a query would.
    return next(iter(Asset._base_manager.raw(sql, params)), None)


def fresh_image_finish(
    *, asset_id: uuid.UUID | str, task_id: str, object_count: int, now: datetime
) -> Asset | None:
    """Mark a claimed image tagged if it has no detections at all (the common case: a fresh upload).

    One UPDATE takes the row lock and checks everything the general path reads the row for: still
    live, still this task's claim, an image, nothing to keep or replace. Returns the asset's
    owner, kind and size (all the write needs), or None when the general path must run instead.
    Call inside the transaction that writes the boxes.
    """
    connection = _connection(Asset)
    quote = connection.ops.quote_name
    table = quote(Asset._meta.db_table)
    detections = quote(Detection._meta.db_table)

    def column(name: str) -> str:
        return _column(Asset, name, connection)

    sql = (
        f"UPDATE {table} SET {column('object_count')} = %s, {column('tagging_status')} = %s, "
        f"{column('tagging_error')} = '', {column('tagged_at')} = %s, {column('updated_at')} = %s "
        f"WHERE {column('id')} = %s AND {column('trashed_at')} IS NULL AND {column('tagging_task_id')} = %s "
        f"AND {column('tagging_status')} = %s AND {column('kind')} = %s "
        f"AND NOT EXISTS (SELECT 1 FROM {detections} d WHERE d.{_column(Detection, 'asset', connection)} = "
        f"{table}.{column('id')}) "
        f"RETURNING {column('owner')}, {column('width')}, {column('height')}"
    )
    stamp = _value(Asset, "updated_at", now, connection)
    key = _value(Asset, "id", asset_id, connection)
    params = [
        object_count, TaggingStatus.TAGGED.value, stamp, stamp, key, task_id,
        TaggingStatus.PROCESSING.value, AssetKind.IMAGE.value,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    owner_id, width, height = row
    asset = Asset(id=uuid.UUID(str(asset_id)), owner_id=owner_id, width=width, height=height, kind=AssetKind.IMAGE)
    asset._state.adding = False
    asset._state.db = connection.alias
    return asset


def label_ids(names: Iterable[str]) -> dict[str, int]:
    """Ids of existing labels by (normalized) name, in one round trip."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    connection = _connection(Label)
    quote = connection.ops.quote_name
    sql = (
        f"SELECT {_column(Label, 'name', connection)}, {_column(Label, 'id', connection)} "
        f"FROM {quote(Label._meta.db_table)} WHERE {_column(Label, 'name', connection)} IN "
        f"({', '.join(['%s'] * len(wanted))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, wanted)
        return dict(cursor.fetchall())


def delete_where_asset(model: type[Model], asset_id: uuid.UUID | str) -> None:
    """DELETE a model's rows of one asset (a model with no cascades or signals: nothing else to do)."""
    connection = _connection(model)
    sql = (
        f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)} "
        f"WHERE {_column(model, 'asset', connection)} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [_value(Asset, "id", asset_id, connection)])

