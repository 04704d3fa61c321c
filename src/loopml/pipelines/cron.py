"""Cron expressions: five fields (minute hour day-of-month month day-of-week), in UTC.

Each field takes ``*``, a number, a range ``a-b``, a list ``a,b,c`` and steps ``*/n`` or
``a-b/n``; months and weekdays also take names (``jan``, ``mon``); Sunday is 0 or 7. As in
cron, when both day-of-month and day-of-week are restricted, a day matching either runs.

    Cron("0 3 * * *").next_after(datetime(2026, 11, 22, 18, 0, tzinfo=UTC))
    # datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from loopml.errors import InvalidInputError

__all__ = ["Cron"]

_NAMES = {
    3: {
        m: i + 1
        for i, m in enumerate(
            ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        )
    },
    4: {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])},
}
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_FIELDS = ("minute", "hour", "day of month", "month", "day of week")


def _value(text: str, index: int, expression: str) -> int:
    names = _NAMES.get(index, {})
    if text.lower() in names:
        return names[text.lower()]
    if not text.isdigit():
        raise InvalidInputError(f"cron {expression!r}: {text!r} is not a valid {_FIELDS[index]}")
    return int(text)


def _field(text: str, index: int, expression: str) -> tuple[frozenset[int], bool]:
    low, high = _BOUNDS[index]
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = _value(step_text, index, expression) if step_text else 1
        if step < 1:
            raise InvalidInputError(f"cron {expression!r}: a step must be at least 1")
        if body == "*":
            start, end = low, high
        elif "-" in body:
            a, _, b = body.partition("-")
            start, end = _value(a, index, expression), _value(b, index, expression)
        else:
            start = _value(body, index, expression)
            end = high if step_text else start
        if not (low <= start <= high and low <= end <= high) or start > end:
            raise InvalidInputError(
                f"cron {expression!r}: {part!r} is outside {low}-{high} for the {_FIELDS[index]}"
            )
        values.update(range(start, end + 1, step))
    if index == 4 and 7 in values:
        values = (values - {7}) | {0}
    return frozenset(values), text == "*"


@dataclass(frozen=True)
class Cron:
    """A parsed cron expression."""

    expression: str

    def __post_init__(self) -> None:
        parts = self.expression.split()
        if len(parts) != 5:
            raise InvalidInputError(
                f"cron {self.expression!r} needs 5 fields: minute hour day-of-month month "
                "day-of-week (e.g. '0 3 * * *' for 03:00 UTC every day)"
            )
        parsed = [_field(p, i, self.expression) for i, p in enumerate(parts)]
        object.__setattr__(self, "_fields", parsed)

    def matches(self, moment: datetime) -> bool:
        """True when the minute of ``moment`` (UTC) is one the expression names."""
        fields = self._fields  # type: ignore[attr-defined]
        return (
            moment.minute in fields[0][0]
            and moment.hour in fields[1][0]
            and moment.month in fields[3][0]
            and self._day_ok(moment)
        )

    def next_after(self, moment: datetime) -> datetime:
        """The first matching minute strictly after ``moment``.

        Raises:
            InvalidInputError: no minute in the next five years matches (e.g. 30 February).
        """
        current = moment.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = current + timedelta(days=366 * 5)
        fields = self._fields  # type: ignore[attr-defined]
        months, hours, minutes = fields[3][0], fields[1][0], fields[0][0]
        while current < limit:
            if current.month not in months:
                year = current.year + (current.month == 12)
                current = current.replace(
                    year=year, month=current.month % 12 + 1, day=1, hour=0, minute=0
                )
            elif not self._day_ok(current):
                current = (current + timedelta(days=1)).replace(hour=0, minute=0)
            elif current.hour not in hours:
                current = (current + timedelta(hours=1)).replace(minute=0)
            elif current.minute in minutes:
                return current
            else:
                current += timedelta(minutes=1)
        raise InvalidInputError(f"cron {self.expression!r} never fires")

    def _day_ok(self, moment: datetime) -> bool:
        fields = self._fields  # type: ignore[attr-defined]
        (_, _), (_, _), (days, any_day), (_, _), (weekdays, any_weekday) = fields
        weekday = (moment.weekday() + 1) % 7
        if any_day or any_weekday:
            return moment.day in days and weekday in weekdays
        return moment.day in days or weekday in weekdays
