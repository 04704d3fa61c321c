"""Cron parsing, schedules, and a scheduler that never runs a slot twice."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

import loopml as lm
from loopml.cli.main import main
from loopml.errors import AlreadyExistsError, InvalidInputError, PipelineDefinitionError
from loopml.pipelines.cron import Cron
from loopml.pipelines.schedules import add_schedule, list_schedules, remove_schedule, run_due

SUNDAY_6PM = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("0 3 * * *", datetime(2026, 11, 23, 3, 0, tzinfo=UTC)),
        ("*/15 * * * *", datetime(2026, 11, 22, 18, 15, tzinfo=UTC)),
        ("0 9 * * mon-fri", datetime(2026, 11, 23, 9, 0, tzinfo=UTC)),
        ("0 0 1 jan *", datetime(2027, 1, 1, 0, 0, tzinfo=UTC)),
        ("30 2 29 2 *", datetime(2028, 2, 29, 2, 30, tzinfo=UTC)),
        ("0 12 13 * 5", datetime(2026, 11, 27, 12, 0, tzinfo=UTC)),  # the 13th or a Friday
        ("0 18 * * 0", datetime(2026, 11, 29, 18, 0, tzinfo=UTC)),  # strictly after
        ("0 18 * * 7", datetime(2026, 11, 29, 18, 0, tzinfo=UTC)),  # 7 is Sunday too
    ],
)
def test_cron_next_times(expression: str, expected: datetime) -> None:
    assert Cron(expression).next_after(SUNDAY_6PM) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 3 * *", "needs 5 fields"),
        ("61 * * * *", "outside 0-59"),
        ("x * * * *", "not a valid minute"),
        ("5-1 * * * *", "outside"),
        ("*/0 * * * *", "at least 1"),
        ("0 0 31 2 *", "never fires"),
    ],
)
def test_bad_cron_expressions_are_refused(expression: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        Cron(expression).next_after(SUNDAY_6PM)


TARGET = "tests.pipelines.flows:fan_out"


def test_a_due_schedule_runs_once_even_with_two_schedulers() -> None:
    made = add_schedule(TARGET, "*/5 * * * *", params={"count": 3})
    assert made.name == "fan_out" and made.params == {"count": 3}
    due = datetime.fromtimestamp(made.next_run_time / 1000, tz=UTC)
    assert run_due(due - timedelta(minutes=1)) == []  # not due yet
    ran = run_due(due)
    assert [(r.schedule, r.status) for r in ran] == [("fan_out", "FINISHED")]
    assert lm.get_run(ran[0].run_id).data.params["count"] == "3"
    # A second scheduler (or this one restarted) at the same moment finds nothing to run.
    assert run_due(due) == []
    after = list_schedules()[0]
    assert after.last_run_id == ran[0].run_id and after.last_status == "FINISHED"
    assert after.next_run_time > made.next_run_time


def test_missed_slots_run_once_after_downtime() -> None:
    made = add_schedule(TARGET, "* * * * *")  # every minute
    later = datetime.fromtimestamp(made.next_run_time / 1000 + 3600, tz=UTC)  # an hour down
    assert len(run_due(later)) == 1
    assert run_due(later) == []


def test_bad_schedules_are_refused_when_added() -> None:
    with pytest.raises(InvalidInputError, match="needs 5 fields"):
        add_schedule(TARGET, "every day")
    with pytest.raises(PipelineDefinitionError, match="no parameter"):
        add_schedule(TARGET, "0 3 * * *", params={"epochs": 3})
    with pytest.raises(InvalidInputError, match="cannot import"):
        add_schedule("no.such.module:flow", "0 3 * * *")
    add_schedule(TARGET, "0 3 * * *")
    with pytest.raises(AlreadyExistsError):
        add_schedule(TARGET, "0 4 * * *")
    remove_schedule("fan_out")
    assert list_schedules() == []


def test_schedule_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            ["schedule", "add", TARGET, "--cron", "0 3 * * *", "-p", "count=2", "--name", "nightly"]
        )
        == 0
    )
    assert "scheduled nightly" in capsys.readouterr().out
    assert main(["schedule", "list", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["name"] == "nightly" and listed["params"] == {"count": 2}
    assert main(["scheduler", "--once"]) == 0  # nothing due yet
    assert "0 schedule(s) ran" in capsys.readouterr().out
    assert main(["schedule", "remove", "nightly"]) == 0
    assert main(["schedule", "remove", "nightly"]) == 3
