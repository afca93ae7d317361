from __future__ import annotations

from pathlib import Path

import pytest

from agentgov.data.errors import DataError
from agentgov.data.manifest_edit import append_dataset
from agentgov.registry.manifest import load_manifest

HEAD = """\
# The router agent. Comments survive edits.
name: router
description: Routes tickets.
owners: [a@example.com]
risk_tier: low
entrypoint: router.py:Router
example_request: {subject: hi}
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "router.py").write_text("class Router:\n    def act(self, r):\n        return r\n")
    path = tmp_path / "agent.yaml"
    path.write_text(text)
    return path


def test_appends_to_a_block_list_keeping_comments_order_and_what_follows(tmp_path: Path) -> None:
    text = HEAD + "datasets:\n  # evaluation data\n  - path: data/a.csv   # the first\n    role: eval\n\n# tags come last\ntags:\n  team: x\n"
    path = write(tmp_path, text)
    append_dataset(path, "data/b.csv", "train", "suites/b.json")
    edited = path.read_text()
    assert edited == text.replace(
        "    role: eval\n", "    role: eval\n  - path: data/b.csv\n    role: train\n    suite: suites/b.json\n"
    )
    assert [(d.path, d.role, d.suite) for d in load_manifest(path).datasets] == [("data/a.csv", "eval", None), ("data/b.csv", "train", "suites/b.json")]


def test_adds_the_key_when_there_is_none_and_extends_a_flow_list(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD.rstrip("\n"))  # no final newline either
    append_dataset(path, "data/a.csv", "eval")
    assert path.read_text() == HEAD + "datasets:\n  - path: data/a.csv\n    role: eval\n"

    path.write_text(HEAD + "datasets: []  # none yet\ntags: {}\n")
    append_dataset(path, "data/a.csv", "eval")
    assert "datasets: [{path: data/a.csv, role: eval}]  # none yet\ntags: {}\n" in path.read_text()
    append_dataset(path, "data/b c.csv", "reference")
    assert [d.path for d in load_manifest(path).datasets] == ["data/a.csv", "data/b c.csv"]


def test_refuses_a_duplicate_and_an_edit_that_would_break_the_manifest(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD + "datasets:\n  - path: data/a.csv\n    role: eval\n")
    before = path.read_text()
    with pytest.raises(DataError, match=r"already lists the dataset data/a\.csv"):
        append_dataset(path, "data/a.csv", "eval")
    with pytest.raises(DataError, match=r"would make it invalid.*suite"):
        append_dataset(path, "data/b.csv", "eval", "suites/b.yaml")
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agent.yaml", "router.py"]


def test_set_dataset_suite_adds_or_replaces_the_suite_of_one_entry_only(tmp_path: Path) -> None:
    from agentgov.data.manifest_edit import set_dataset_suite

    text = HEAD + "datasets:\n  - path: data/a.csv   # the first\n    role: eval\n  - {path: data/b.csv, role: train}\n# tags come last\ntags:\n  team: x\n"
    path = write(tmp_path, text)
    set_dataset_suite(path, "data/a.csv", "suites/a.json")
    assert path.read_text() == text.replace("    role: eval\n", "    role: eval\n    suite: suites/a.json\n")
    set_dataset_suite(path, "data/b.csv", "suites/b.json")
    assert "  - {path: data/b.csv, role: train, suite: suites/b.json}\n# tags come last\n" in path.read_text()
    set_dataset_suite(path, "data/a.csv", "suites/strict.json")
    assert [(d.path, d.suite) for d in load_manifest(path).datasets] == [("data/a.csv", "suites/strict.json"), ("data/b.csv", "suites/b.json")]
    assert path.read_text().startswith("# The router agent. Comments survive edits.\n") and "# the first\n" in path.read_text()
    with pytest.raises(DataError, match=r"does not list the dataset data/c\.csv"):
        set_dataset_suite(path, "data/c.csv", "suites/c.json")
    before = path.read_text()
    with pytest.raises(DataError, match="would make it invalid"):
        set_dataset_suite(path, "data/a.csv", "suites/a.yaml")
    assert path.read_text() == before
