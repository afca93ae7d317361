from datetime import UTC, datetime

import pytest

from agentgov.core import InvalidValue
from agentgov.plugins.policies.change_freeze import ChangeFreeze
from agentgov.policies import policy_context

POLICY = ChangeFreeze()
YEAR_END = {"start": "2026-12-20T00:00:00+00:00", "end": "2027-01-03T00:00:00+00:00", "reason": "year-end"}
FRIDAY_EVENINGS = {"days": ["fri"], "from": "16:00", "to": "23:59", "reason": "no Friday deploys"}


def _check(now: datetime, windows: list, overrides: dict | None = None):
    return POLICY.evaluate(policy_context(POLICY.name, now=now, params={"windows": windows}, overrides=overrides))


def test_outside_every_window_passes() -> None:
    assert _check(datetime(2026, 12, 1, 12, tzinfo=UTC), [YEAR_END, FRIDAY_EVENINGS]).status == "pass"


def test_inside_a_dated_window_fails_and_says_how_to_override() -> None:
    result = _check(datetime(2026, 12, 24, tzinfo=UTC), [YEAR_END])
    assert result.status == "fail" and "year-end" in result.reason and "--override change-freeze=" in result.reason


def test_weekly_windows_use_utc_day_and_time() -> None:
    friday_evening = datetime(2026, 11, 27, 17, 30, tzinfo=UTC)
    friday_morning = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    assert _check(friday_evening, [FRIDAY_EVENINGS]).status == "fail"
    assert _check(friday_morning, [FRIDAY_EVENINGS]).status == "pass"


def test_the_window_end_is_exclusive() -> None:
    assert _check(datetime(2027, 1, 3, tzinfo=UTC), [YEAR_END]).status == "pass"


def test_an_emergency_override_warns_with_its_reason() -> None:
    result = _check(datetime(2026, 12, 24, tzinfo=UTC), [YEAR_END], overrides={"change-freeze": "sev1 INC-42"})
    assert result.status == "warn" and "sev1 INC-42" in result.reason


def test_a_malformed_window_raises_which_the_gate_records_as_error() -> None:
    with pytest.raises(InvalidValue, match="needs start and end, or days"):
        _check(datetime(2026, 12, 24, tzinfo=UTC), [{"reason": "?"}])
    with pytest.raises(InvalidValue, match="unknown day"):
        _check(datetime(2026, 12, 24, tzinfo=UTC), [{"days": ["funday"]}])
