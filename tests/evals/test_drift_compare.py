"""The drift engine with a chooser of its own: what every evaluator gets, whoever picks the tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agentgov.core import InvalidValue
from agentgov.evals import ColumnFacts, ColumnTest, DriftStatus, compare, infer_column_type

SEEN: list[ColumnFacts] = []


def ks_or_chisquare(facts: ColumnFacts) -> ColumnTest:
    """A toy rule: KS for numbers, chi-square for categories, at 5%."""
    SEEN.append(facts)
    return ColumnTest("ks" if facts.column_type == "num" else "chisquare", 0.05)


def frames(n: int, shift: float = 0.0, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def side(s: float) -> pd.DataFrame:
        return pd.DataFrame({"amount": rng.normal(s, 1.0, n), "channel": rng.choice(["mail", "chat", "phone"], n)})

    return side(0.0), side(shift)


def test_the_chooser_sees_each_columns_facts_and_its_test_is_computed_on_all_rows() -> None:
    SEEN.clear()
    reference, current = frames(400, shift=0.5)
    current.loc[0, "amount"] = np.inf  # dropped, as NaN is
    result = compare(reference, current, ks_or_chisquare)
    assert [(f.column, f.column_type, f.reference_rows, f.current_rows) for f in SEEN] == [
        ("amount", "num", 400, 399), ("channel", "cat", 400, 400),
    ]
    assert SEEN[1].distinct == 3
    amount = result.column("amount")
    assert (amount.method, amount.drifted) == ("ks", True) and amount.effect == pytest.approx(0.5, abs=0.15)
    assert result.column("channel").method == "chisquare" and not result.column("channel").drifted
    assert result.status is DriftStatus.DRIFT and result.share_drifted == 0.5


def test_p_value_tests_share_the_level_so_the_whole_check_holds_it() -> None:
    reference, current = frames(400)
    result = compare(reference, current, ks_or_chisquare)
    assert [c.threshold for c in result.columns] == [0.025, 0.025]
    alone = compare(reference, current, ks_or_chisquare, familywise=False)
    assert [c.threshold for c in alone.columns] == [0.05, 0.05]
    distances = compare(reference, current, lambda f: ColumnTest("jensenshannon", 0.1))
    assert [c.threshold for c in distances.columns] == [0.1, 0.1]  # a distance is not a p-value: no share


def test_whole_checks_of_one_distribution_drift_at_most_at_the_nominal_level() -> None:
    rng = np.random.default_rng(11)
    drifted = 0
    for _ in range(200):
        reference = pd.DataFrame({f"x{i}": rng.normal(size=300) for i in range(5)})
        current = pd.DataFrame({f"x{i}": rng.normal(size=300) for i in range(5)})
        drifted += bool(compare(reference, current, ks_or_chisquare).drifted_columns)
    assert drifted / 200 <= 0.05  # five columns at 5% each would be about 23%


def test_a_nearly_constant_reference_does_not_turn_a_negligible_change_into_drift() -> None:
    reference = pd.DataFrame({"share": [0.0] * 330 + [0.05, 0.1] * 35})  # 82% zeros, mean 0.0131
    current = pd.DataFrame({"share": [0.0] * 400})
    judged = compare(reference, current, ks_or_chisquare, scales={"share": 1.0})
    share = judged.column("share")
    assert share.score < share.threshold  # the test fires
    assert not share.drifted and share.effect == pytest.approx(0.013125)
    assert share.note == "negligible: the test fired but the effect 0.0131 is below 0.1"
    assert judged.status is DriftStatus.OK and judged.drifted_columns == ()
    # In the reference's own spread, 0.013 is large: without a scale it is drift, as is a real change on that scale.
    assert compare(reference, current, ks_or_chisquare).column("share").drifted
    moved = pd.DataFrame({"share": [0.3] * 200 + [0.0] * 200})
    assert compare(reference, moved, ks_or_chisquare, scales={"share": 1.0}).column("share").drifted


def test_a_rare_category_seen_on_one_side_only_is_not_drift() -> None:
    reference = pd.DataFrame({"channel": ["mail"] * 200 + ["chat"] * 199 + ["fax"]})
    current = pd.DataFrame({"channel": ["mail"] * 200 + ["chat"] * 199 + ["pigeon"]})
    assert not compare(reference, current, ks_or_chisquare).column("channel").drifted
    assert compare(reference, current, ks_or_chisquare, two_sample=False, min_effect=0).column("channel").drifted


@pytest.mark.parametrize(
    ("test", "expected"),
    [("ks", "ok"), ("wasserstein", "ok"), ("psi", "ok"), ("jensenshannon", "ok")],
)
def test_values_near_the_float_limit_give_a_verdict_not_nan(test: str, expected: str) -> None:
    rng = np.random.default_rng(2)
    reference = pd.DataFrame({"x": rng.uniform(-1, 1, 2000) * 1.7e308})
    current = pd.DataFrame({"x": rng.uniform(-1, 1, 2000) * 1.7e308})
    result = compare(reference, current, lambda f: ColumnTest(test, 0.05 if test == "ks" else 0.1))
    assert result.status.value == expected and np.isfinite(result.columns[0].score)
    shifted = compare(reference, current.assign(x=current["x"].abs()), lambda f: ColumnTest(test, 0.05 if test == "ks" else 0.1))
    assert shifted.status is DriftStatus.DRIFT


def test_a_score_that_is_not_a_number_is_an_error_never_ok() -> None:
    nan_test = ColumnTest("custom", 0.5, run=lambda reference, current, threshold: (float("nan"), False))
    result = compare(*frames(100), lambda f: nan_test if f.column == "amount" else ColumnTest("chisquare", 0.05))
    assert result.status is DriftStatus.ERROR and result.columns == ()
    assert result.message == "column 'amount': the custom score is nan, not a number a verdict can rest on"


def test_objects_mixing_strings_and_numbers_are_categories() -> None:
    mixed = pd.Series(["a", 1, "b", 2.5] * 25, dtype=object)
    assert infer_column_type(mixed) == "cat"
    assert infer_column_type(pd.Series([[1], [2]] * 20, dtype=object)) is None  # lists: not compared
    result = compare(pd.DataFrame({"kind": mixed}), pd.DataFrame({"kind": mixed[::-1]}), ks_or_chisquare)
    assert result.status is DriftStatus.OK
    two = pd.Series(["a", 1] * 50, dtype=object)
    assert compare(pd.DataFrame({"k": two}), pd.DataFrame({"k": two}), lambda f: ColumnTest("z", 0.05)).status is DriftStatus.OK


def test_mistakes_raise_one_line_errors() -> None:
    reference, current = frames(100)
    with pytest.raises(InvalidValue, match="unknown drift test 'nope'"):
        compare(reference, current, lambda f: ColumnTest("nope", 0.05))
    with pytest.raises(InvalidValue, match="drift test 'ks' does not apply to column 'channel' of type cat"):
        compare(reference, current, lambda f: ColumnTest("ks", 0.05))
    with pytest.raises(InvalidValue, match="returned str for column 'amount', not a ColumnTest"):
        compare(reference, current, lambda f: "ks")  # type: ignore[arg-type, return-value]
    with pytest.raises(InvalidValue, match="'amount' has no values in the current data"):
        compare(reference, current.assign(amount=np.nan), ks_or_chisquare)


def test_frames_with_repeated_index_labels_are_compared_by_position() -> None:
    reference, current = frames(100)
    repeated = current.set_axis([0] * 100)
    assert compare(reference, repeated, ks_or_chisquare) == compare(reference, current, ks_or_chisquare)
