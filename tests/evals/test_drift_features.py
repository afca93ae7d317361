"""What drift is measured on: log rows turned into comparable columns, text into exact descriptors."""

from __future__ import annotations

import numpy as np
import pandas as pd

from agentgov.evals import comparable, feature_scales


def test_descriptors_are_exact() -> None:
    reference = pd.DataFrame({"request.body": [f"Common w{i}" for i in range(40)]})
    current = pd.DataFrame({"request.body": ["w3, w4!", "brand new", None] + [f"common x{i}" for i in range(37)]})
    ref, cur = comparable(reference, current)
    assert ref["request.body:length"].tolist()[:2] == [9.0, 9.0] and ref["request.body:length"][10] == 10.0
    assert cur["request.body:length"].tolist()[:3] == [7.0, 9.0, 0.0]
    # In the reference, "common" is in other rows and each w<i> in none: half of each row is out of vocabulary.
    assert set(ref["request.body:oov_share"]) == {0.5}
    assert cur["request.body:oov_share"].tolist()[:2] == [0.0, 1.0] and np.isnan(cur["request.body:oov_share"][2])
    assert set(cur["request.body:oov_share"][3:]) == {0.5}


def test_a_row_of_only_punctuation_is_wholly_out_of_vocabulary_and_an_empty_row_has_no_share() -> None:
    reference = pd.DataFrame({"request.body": [f"refund order {i}" for i in range(40)]})
    current = pd.DataFrame({"request.body": ["?!", "...", "", "   "] + [f"refund order {i}" for i in range(36)]})
    _, cur = comparable(reference, current)
    assert cur["request.body:oov_share"].tolist()[:2] == [1.0, 1.0]
    assert np.isnan(cur["request.body:oov_share"][2]) and np.isnan(cur["request.body:oov_share"][3])


def test_plain_columns_are_named_as_the_log_names_them_and_frames_with_repeated_labels_line_up() -> None:
    reference = pd.DataFrame({"subject": ["Refund", "Crash"] * 20, "action": ["refund", "technical"] * 20}).set_axis([0] * 40)
    current = pd.DataFrame({"request.subject": ["Crash", "Refund"] * 20, "response.action": ["technical", "refund"] * 20,
                            "latency_ms": [5.0] * 40})
    ref, cur = comparable(reference, current)
    assert list(ref.columns) == list(cur.columns) == ["request.subject", "response.action"]
    assert len(ref) == len(cur) == 40


def test_each_descriptor_has_a_scale_in_its_own_units() -> None:
    assert feature_scales(["request.body:oov_share", "request.body:length", "request.subject"]) == {
        "request.body:oov_share": 1.0, "request.body:length": 10.0,
    }
