"""Translate parsed search filters and order_by clauses into SQLAlchemy queries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, not_, select, true

from loopml.errors import SearchSyntaxError
from loopml.storage.metadata.search import Comparison, OrderBy
from loopml.storage.metadata.sql.models import LATEST_METRICS, PARAMS, RUNS, TAGS

__all__ = ["run_search_query"]

# Core tables and aliases, not ORM classes: building the statement is on every search's path.
_R = RUNS.c
_ATTRIBUTE_COLUMNS: dict[str, Any] = {
    "run_id": _R.run_uuid,
    "run_name": _R.name,
    "status": _R.status,
    "user_id": _R.user_id,
    "start_time": _R.start_time,
    "end_time": _R.end_time,
    "artifact_uri": _R.artifact_uri,
    "lifecycle_stage": _R.lifecycle_stage,
}


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    op = op.upper()
    if op == "=":
        return column == value  # type: ignore[no-any-return]
    if op == "!=":
        return column != value  # type: ignore[no-any-return]
    if op == "<":
        return column < value  # type: ignore[no-any-return]
    if op == "<=":
        return column <= value  # type: ignore[no-any-return]
    if op == ">":
        return column > value  # type: ignore[no-any-return]
    if op == ">=":
        return column >= value  # type: ignore[no-any-return]
    if op == "LIKE":
        return column.like(value)  # type: ignore[no-any-return]
    if op == "ILIKE":
        return column.ilike(value)  # type: ignore[no-any-return]
    if op == "IN":
        return column.in_(list(value)) if value else false()
    if op == "NOT IN":
        return column.not_in(list(value)) if value else true()
    raise SearchSyntaxError(f"comparator {op!r} is not supported here")


def _filter_clause(query: Select[Any], cmp: Comparison, index: int) -> Select[Any]:
    op = cmp.op.upper()
    if cmp.kind == "attribute":
        column = _ATTRIBUTE_COLUMNS.get(cmp.key)
        if column is None:
            raise SearchSyntaxError(f"unknown run attribute {cmp.key!r} in the filter")
        if op == "IS NULL":
            return query.where(column.is_(None))
        if op == "IS NOT NULL":
            return query.where(column.is_not(None))
        return query.where(_compare(column, op, cmp.value))
    if cmp.kind == "metric":
        table = LATEST_METRICS.alias(f"fm{index}").c
        joined = and_(table.run_uuid == _R.run_uuid, table.key == cmp.key)
        if op in ("IS NULL", "IS NOT NULL"):
            return _presence(query, table, joined, op)
        # NaN is stored as a flag, so a NaN point never matches a numeric comparison.
        return query.join(
            table.run_uuid.table,
            and_(joined, not_(table.is_nan), _compare(table.value, op, cmp.value)),
        )
    if cmp.kind in ("param", "tag"):
        source = PARAMS if cmp.kind == "param" else TAGS
        table = source.alias(f"f{cmp.kind[0]}{index}").c
        joined = and_(table.run_uuid == _R.run_uuid, table.key == cmp.key)
        if op in ("IS NULL", "IS NOT NULL"):
            return _presence(query, table, joined, op)
        return query.join(table.run_uuid.table, and_(joined, _compare(table.value, op, cmp.value)))
    raise SearchSyntaxError(
        f"filtering on {cmp.kind}s is not available in this store; filter on metrics, params, "
        "tags or attributes"
    )


def _presence(query: Select[Any], table: Any, joined: Any, op: str) -> Select[Any]:
    exists = select(table.run_uuid).where(joined).exists()
    return query.where(~exists if op == "IS NULL" else exists)


def _order_columns(query: Select[Any], order: OrderBy, index: int) -> tuple[Select[Any], list[Any]]:
    if order.kind == "attribute":
        column = _ATTRIBUTE_COLUMNS.get(order.key)
        if column is None:
            raise SearchSyntaxError(f"unknown run attribute {order.key!r} in order_by")
    elif order.kind in ("metric", "param", "tag"):
        source = {"metric": LATEST_METRICS, "param": PARAMS, "tag": TAGS}[order.kind]
        table = source.alias(f"o{index}").c
        query = query.outerjoin(
            table.run_uuid.table, and_(table.run_uuid == _R.run_uuid, table.key == order.key)
        )
        column = table.value
    else:
        raise SearchSyntaxError(f"cannot order runs by {order.kind}s")
    # Runs without the key (NULL) sort last in both directions, as MLflow does.
    direction = column.asc() if order.ascending else column.desc()
    return query, [column.is_(None), direction]


def run_search_query(
    experiment_ids: Sequence[int],
    stages: Sequence[str],
    comparisons: Sequence[Comparison],
    orders: Sequence[OrderBy],
) -> Select[Any]:
    """The query selecting matching run ids, in the requested order.

    Ties are broken by start time (newest first) and run id, so pages are stable.
    """
    query = select(_R.run_uuid).where(
        _R.experiment_id.in_(list(experiment_ids)), _R.lifecycle_stage.in_(list(stages))
    )
    for index, cmp in enumerate(comparisons):
        query = _filter_clause(query, cmp, index)
    sort: list[Any] = []
    for index, order in enumerate(orders):
        query, columns = _order_columns(query, order, index)
        sort.extend(columns)
    sort.extend([_R.start_time.desc(), _R.run_uuid])
    return query.order_by(*sort)
