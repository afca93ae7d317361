from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from agentgov.core.home import Home
from agentgov.data.datasets import add_dataset, refuse_dirty, status
from agentgov.data.errors import DataError, DirtyDatasets, VersioningError
from agentgov.data.versioning import dataset_state, file_md5, open_repo, restore


def test_add_tracks_the_file_with_dvc_at_the_git_root_and_lists_it_in_the_manifest(agent: Path, git_repo: Path, agentgov_home: Home) -> None:
    manifest_before = (agent / "agent.yaml").read_text()
    added = add_dataset(agent / "data" / "eval.csv", agent_dir=agent, role="eval", home=agentgov_home.root)

    assert added.path == "data/eval.csv" and added.role == "eval" and added.manifest_updated and added.dvc_initialised
    assert (git_repo / ".dvc").is_dir() and not (agent / ".dvc").exists()
    pointer = yaml.safe_load((agent / "data" / "eval.csv.dvc").read_text())["outs"][0]
    assert pointer["md5"] == added.md5 == file_md5(agent / "data" / "eval.csv")
    # The cache is the home's, set in DVC's machine-local config, not in the committed one.
    assert (agentgov_home.root / "dvc-cache" / "files" / "md5" / added.md5[:2] / added.md5[2:]).is_file()
    assert "dvc-cache" in (git_repo / ".dvc" / "config.local").read_text()
    assert "dvc-cache" not in (git_repo / ".dvc" / "config").read_text()
    # The manifest keeps every line it had and gains the entry at the end.
    manifest_after = (agent / "agent.yaml").read_text()
    assert manifest_after.startswith(manifest_before)
    assert manifest_after[len(manifest_before):] == "datasets:\n  - path: data/eval.csv\n    role: eval\n"
    assert "data/eval.csv" not in subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=git_repo, capture_output=True, text=True).stdout.replace("data/eval.csv.dvc", "")

    [state] = status(agent)
    assert (state.path, state.role, state.state, state.tracked_md5) == ("data/eval.csv", "eval", "ok", added.md5)


def test_status_tells_modified_untracked_and_missing_apart(agent: Path, agentgov_home: Home) -> None:
    add_dataset(agent / "data" / "eval.csv", agent_dir=agent, role="eval", home=agentgov_home.root)
    (agent / "data" / "train.csv").write_text("a,b\n1,2\n")
    add_dataset(agent / "data" / "train.csv", agent_dir=agent, role="train", home=agentgov_home.root)
    (agent / "data" / "eval.csv").write_text((agent / "data" / "eval.csv").read_text() + "Extra,row,billing,0.1\n")
    (agent / "data" / "train.csv").unlink()
    with (agent / "agent.yaml").open("a") as f:
        f.write("  - path: data/reference.csv\n    role: reference\n")
    (agent / "data" / "reference.csv").write_text("a\n1\n")

    states = {s.path: s for s in status(agent)}
    assert {p: s.state for p, s in states.items()} == {"data/eval.csv": "modified", "data/train.csv": "missing", "data/reference.csv": "untracked"}
    assert states["data/eval.csv"].tracked_md5 != states["data/eval.csv"].current_md5
    assert states["data/reference.csv"].tracked_md5 is None

    with pytest.raises(DirtyDatasets) as caught:
        refuse_dirty(tuple(states.values()), agent)
    message = str(caught.value)
    assert "eval.csv is modified since `agentgov data add`" in message and "reference.csv is not tracked by DVC" in message
    assert "train.csv is missing" in message and "--allow-dirty" in message and "`agentgov data add " in message


def test_adding_a_listed_dataset_again_retracks_it_without_a_second_entry(agent: Path, agentgov_home: Home) -> None:
    first = add_dataset(agent / "data" / "eval.csv", agent_dir=agent, role="eval", home=agentgov_home.root)
    (agent / "data" / "eval.csv").write_text("subject,body,label,score\nNew,row,billing,0.3\n")
    again = add_dataset(agent / "data" / "eval.csv", agent_dir=agent, role="eval", home=agentgov_home.root)
    assert not again.manifest_updated and not again.dvc_initialised and again.md5 != first.md5
    assert (agent / "agent.yaml").read_text().count("data/eval.csv") == 1
    assert [s.state for s in status(agent)] == ["ok"]
    with pytest.raises(DataError, match=r"already in agent\.yaml as eval dataset"):
        add_dataset(agent / "data" / "eval.csv", agent_dir=agent, role="train", home=agentgov_home.root)


def test_add_refuses_a_file_outside_the_agent_and_a_folder(agent: Path, git_repo: Path, agentgov_home: Home) -> None:
    (git_repo / "outside.csv").write_text("a\n1\n")
    with pytest.raises(DataError, match="outside the agent folder"):
        add_dataset(git_repo / "outside.csv", agent_dir=agent, role="eval", home=agentgov_home.root)
    with pytest.raises(VersioningError, match="is a folder"):
        add_dataset(agent / "data", agent_dir=agent, role="eval", home=agentgov_home.root)
    assert "datasets" not in (agent / "agent.yaml").read_text()


def test_without_git_dvc_is_initialised_in_the_agent_folder(agent: Path, tmp_path: Path, agentgov_home: Home) -> None:
    plain = tmp_path / "plain"
    agent.rename(plain)
    added = add_dataset(plain / "data" / "eval.csv", agent_dir=plain, role="reference", home=agentgov_home.root)
    assert added.dvc_initialised and (plain / ".dvc").is_dir()
    assert "no_scm = True" in (plain / ".dvc" / "config").read_text()


def test_a_cache_dir_set_by_the_team_is_kept(agent: Path, git_repo: Path, tmp_path: Path, agentgov_home: Home) -> None:
    add_dataset(agent / "data" / "eval.csv", agent_dir=agent, role="eval", home=agentgov_home.root)
    team_cache = tmp_path / "team-cache"
    (git_repo / ".dvc" / "config").write_text(f"[cache]\n    dir = {team_cache}\n")
    (agent / "data" / "eval.csv").write_text("subject\nx\n")
    added = add_dataset(agent / "data" / "eval.csv", agent_dir=agent, role="eval", home=agentgov_home.root)
    assert (team_cache / "files" / "md5" / added.md5[:2] / added.md5[2:]).is_file()
    assert not (agentgov_home.root / "dvc-cache" / "files" / "md5" / added.md5[:2]).exists()


def test_restore_puts_back_byte_identical_files_from_the_cache_then_from_a_remote(agent: Path, git_repo: Path, tmp_path: Path, agentgov_home: Home) -> None:
    remote = tmp_path / "remote"
    repo, _ = open_repo(agent, agentgov_home.root, create=True)
    with repo.config.edit("repo") as config:
        config["remote"]["store"] = {"url": str(remote)}
        config["core"]["remote"] = "store"
    repo.close()
    original = (agent / "data" / "eval.csv").read_bytes()
    added = add_dataset(agent / "data" / "eval.csv", agent_dir=agent, role="eval", home=agentgov_home.root)
    assert added.pushed and (remote / "files" / "md5" / added.md5[:2] / added.md5[2:]).is_file()
    out = yaml.safe_load((agent / "data" / "eval.csv.dvc").read_text())["outs"][0]

    (agent / "data" / "eval.csv").write_text("something else\n")
    [restored] = restore(agent, {"data/eval.csv": out}, home=agentgov_home.root)
    assert (restored.outcome, restored.source) == ("restored", "cache")
    assert (agent / "data" / "eval.csv").read_bytes() == original

    import shutil

    shutil.rmtree(agentgov_home.root / "dvc-cache")
    (agent / "data" / "eval.csv").unlink()
    [restored] = restore(agent, {"data/eval.csv": out}, home=agentgov_home.root)
    assert (restored.outcome, restored.source) == ("restored", "remote")
    assert (agent / "data" / "eval.csv").read_bytes() == original

    [unrestorable] = restore(agent, {"data/eval.csv": "was untracked"}, home=agentgov_home.root)
    assert not unrestorable.ok and unrestorable.outcome == "was untracked"


def _git_state(repo: Path) -> tuple[str, str]:
    """What git sees: the index and the working tree, untracked files included."""
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=repo, capture_output=True, text=True, check=True).stdout
    index = subprocess.run(["git", "ls-files", "--stage"], cwd=repo, capture_output=True, text=True, check=True).stdout
    return status, index


def _commit_everything(repo: Path) -> None:
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "the example, data in git"], cwd=repo, check=True)


def test_a_dataset_committed_to_git_moves_to_dvc_in_one_add(agent: Path, git_repo: Path, agentgov_home: Home) -> None:
    _commit_everything(git_repo)  # as the shipped example is: data/eval.csv in git
    content = (agent / "data" / "eval.csv").read_bytes()

    added = add_dataset(agent / "data" / "eval.csv", agent_dir=agent, role="eval", home=agentgov_home.root)

    assert added.untracked_from_git and added.dvc_initialised and added.manifest_updated
    assert (agent / "data" / "eval.csv").read_bytes() == content  # the file stays; only git's index lets go of it
    staged = {line[3:]: line[:2] for line in _git_state(git_repo)[0].splitlines()}
    assert staged["agents/router/data/eval.csv"] == "D "  # removed from the index, committed with the pointer
    assert staged["agents/router/data/eval.csv.dvc"] == "A " and staged["agents/router/data/.gitignore"] == "A "
    assert staged["agents/router/agent.yaml"] == " M"  # left for the user to review and commit
    assert "/eval.csv" in (agent / "data" / ".gitignore").read_text()
    assert set(added.staged) == {"agents/router/data/eval.csv.dvc", "agents/router/data/.gitignore"}
    assert [s.state for s in status(agent)] == ["ok"]


def test_a_failed_add_leaves_git_and_the_working_tree_as_it_found_them(
    agent: Path, git_repo: Path, agentgov_home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    _commit_everything(git_repo)
    (agent / "notes.txt").write_text("an untracked file of the user's\n")
    subprocess.run(["git", "add", "agents/router/notes.txt"], cwd=git_repo, check=True)  # and something staged
    before = _git_state(git_repo)
    manifest = (agent / "agent.yaml").read_bytes()

    import agentgov.data.manifest_edit

    def fail(*args: object, **kwargs: object) -> None:  # the last step fails, after git rm, dvc init, dvc add and staging
        raise DataError("the manifest could not be written")

    monkeypatch.setattr(agentgov.data.manifest_edit, "append_dataset", fail)
    with pytest.raises(DataError, match="could not be written"):
        add_dataset(agent / "data" / "eval.csv", agent_dir=agent, role="eval", home=agentgov_home.root)

    assert _git_state(git_repo) == before
    assert (agent / "agent.yaml").read_bytes() == manifest
    assert not (git_repo / ".dvc").exists() and not (git_repo / ".dvcignore").exists()
    assert not (agent / "data" / "eval.csv.dvc").exists() and (agent / "data" / "eval.csv").is_file()


def test_adding_a_listed_dataset_with_a_suite_attaches_the_suite_in_one_call(agent: Path, agentgov_home: Home) -> None:
    (agent / "data" / "train.csv").write_text("a,b\n1,2\n")
    add_dataset(agent / "data" / "train.csv", agent_dir=agent, role="train", home=agentgov_home.root)
    # What `data profile`'s hint says: no --role (the listed one is kept), only the suite.
    attached = add_dataset(agent / "data" / "train.csv", agent_dir=agent, home=agentgov_home.root, suite="suites/train.json")
    assert (attached.role, attached.suite, attached.suite_attached, attached.suite_replaced) == ("train", "suites/train.json", True, None)
    assert not attached.manifest_updated
    replaced = add_dataset(agent / "data" / "train.csv", agent_dir=agent, role="train", home=agentgov_home.root, suite="suites/strict.json")
    assert (replaced.suite, replaced.suite_replaced) == ("suites/strict.json", "suites/train.json")
    assert [(s.path, s.role, s.suite, s.state) for s in status(agent)] == [("data/train.csv", "train", "suites/strict.json", "ok")]
    assert (agent / "agent.yaml").read_text().count("suite:") == 1


def test_a_remote_dvc_cannot_use_fails_in_one_line_and_changes_nothing_in_git(agent: Path, git_repo: Path, agentgov_home: Home) -> None:
    repo, _ = open_repo(agent, agentgov_home.root, create=True)
    with repo.config.edit("repo") as config:  # a real failure: pushing to S3 needs the dvc-s3 plugin, not installed here
        config["remote"]["store"] = {"url": "s3://no-such-bucket/agentgov"}
        config["core"]["remote"] = "store"
    repo.close()
    _commit_everything(git_repo)
    before = _git_state(git_repo)
    with pytest.raises(VersioningError, match=r"DVC could not (push|track) .*eval\.csv"):  # without dvc-s3: "push ... dvc-s3"
        add_dataset(agent / "data" / "eval.csv", agent_dir=agent, role="eval", home=agentgov_home.root)
    assert _git_state(git_repo) == before
    assert "datasets" not in (agent / "agent.yaml").read_text()


@pytest.mark.timeout(20)
def test_a_hostile_pointer_file_is_refused_at_once_never_expanded(agent: Path) -> None:
    """An alias bomb in a .dvc file hung the dataset check (str() of the md5 expanded every alias)."""
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    (agent / "data" / "eval.csv.dvc").write_text("\n".join(levels) + "\nouts:\n- md5: *a9\n  path: eval.csv\n")

    with pytest.raises(VersioningError, match=r"eval.csv.dvc is not a DVC pointer file"):
        dataset_state(agent, "data/eval.csv", "eval")
