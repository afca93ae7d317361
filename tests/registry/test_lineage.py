from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from agentgov.registry.lineage import collect, dvc_hash, git_state

DVC = str(Path(sys.executable).parent / "dvc")


def test_dataset_hashes_come_from_real_dvc_tracking(tmp_path: Path) -> None:
    subprocess.run([DVC, "init", "--no-scm", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "eval.csv").write_text("subject,body,label\nInvoice,where is it,billing\n")
    subprocess.run([DVC, "add", "-q", "data/eval.csv"], cwd=tmp_path, check=True)
    recorded = yaml.safe_load((tmp_path / "data" / "eval.csv.dvc").read_text())["outs"][0]["md5"]
    assert dvc_hash(tmp_path / "data" / "eval.csv") == recorded
    assert dvc_hash(tmp_path / "data" / "other.csv") == "untracked"

    manifest = tmp_path / "agent.yaml"
    manifest.write_text("name: x\n")
    tags = collect(tmp_path, manifest, ["data/eval.csv", "data/other.csv"], "alice")
    assert tags["agentgov.lineage.dataset.data/eval.csv"] == recorded
    assert tags["agentgov.lineage.dataset.data/other.csv"] == "untracked"
    assert tags["agentgov.lineage.git_commit"] == "none"
    assert tags["agentgov.lineage.git_dirty"] == "unknown"


def test_outside_git_there_is_no_commit(tmp_path: Path) -> None:
    assert git_state(tmp_path) == ("none", None)
