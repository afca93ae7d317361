"""The demo's folder: a new or empty one is taken, an earlier demo's is started over, anything else is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentgov.pipelines.demo import DemoError
from agentgov.pipelines.demo.workspace import MARKER, claimed, example_agents, was_reset


@pytest.fixture
def examples() -> Path:
    return example_agents()


def test_an_earlier_demos_folder_is_started_over(tmp_path: Path, examples: Path) -> None:
    root = tmp_path / "demo"
    with claimed(root, examples) as ws:
        (ws.root / "agents").mkdir()
        (ws.root / "agents" / "old.txt").write_text("from the first run")
        (ws.root / "helpdesk.db").write_text("rows")
    assert was_reset(root)
    with claimed(root, examples) as ws:
        assert sorted(p.name for p in ws.root.iterdir()) == [MARKER]
    assert not was_reset(root)


def test_a_folder_with_other_files_is_refused_and_left_alone(tmp_path: Path, examples: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(DemoError, match="is not empty and was not made by `agentgov demo`") as refused:
        with claimed(tmp_path, examples):
            pass
    assert refused.value.exit_code == 2
    assert [p.name for p in tmp_path.iterdir()] == ["mine.txt"]


def test_a_second_demo_in_the_same_folder_is_refused_while_the_first_runs(tmp_path: Path, examples: Path) -> None:
    with claimed(tmp_path / "demo", examples) as ws:
        (ws.root / "data").mkdir()
        with pytest.raises(DemoError, match="another `agentgov demo` is running"):
            with claimed(tmp_path / "demo", examples):
                pass
        assert (ws.root / "data").is_dir()  # the running demo's files are untouched


def test_without_the_example_agents_the_demo_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(DemoError, match=f"the example agents are not in {tmp_path}") as missing:
        example_agents(tmp_path)
    assert "--examples" in str(missing.value)
