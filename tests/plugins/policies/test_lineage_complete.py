import hashlib

from agentgov.plugins.policies.lineage_complete import LineageComplete
from agentgov.policies import policy_context

POLICY = LineageComplete()
MANIFEST = "name: a\nrisk_tier: low\n"
CLEAN = {
    "git_commit": "0123456789abcdef",
    "git_dirty": "false",
    "manifest_sha256": hashlib.sha256(MANIFEST.encode()).hexdigest(),
    "registered_by": "alice",
    "dataset.data/eval.csv": "5d41402abc4b2a76b9719d911017c592",
}


def _check(lineage: dict, params: dict | None = None, manifest_text: str | None = MANIFEST):
    return POLICY.evaluate(policy_context(POLICY.name, lineage=lineage, params=params, manifest_text=manifest_text))


def test_clean_commit_tracked_data_matching_manifest_passes() -> None:
    result = _check(CLEAN)
    assert result.status == "pass", result.reason
    assert "1 tracked dataset" in result.reason


def test_uncommitted_changes_fail_unless_allow_dirty_then_warn() -> None:
    dirty = {**CLEAN, "git_dirty": "true"}
    assert _check(dirty).status == "fail"
    assert _check(dirty, {"allow_dirty": True}).status == "warn"


def test_an_untracked_or_modified_dataset_fails() -> None:
    assert "dataset data/eval.csv is untracked" in _check({**CLEAN, "dataset.data/eval.csv": "untracked"}).reason
    assert _check({**CLEAN, "dataset.data/eval.csv": "modified"}).status == "fail"


def test_registered_with_allow_dirty_fails_at_the_gate() -> None:
    assert "--allow-dirty" in _check({**CLEAN, "allow_dirty": "true"}).reason


def test_not_in_git_fails() -> None:
    assert "not registered from a git repository" in _check({**CLEAN, "git_commit": "none"}).reason


def test_a_manifest_that_does_not_match_its_hash_fails() -> None:
    result = _check(CLEAN, manifest_text=MANIFEST + "# edited\n")
    assert result.status == "fail" and "does not match the manifest hash" in result.reason


def test_no_registered_manifest_fails() -> None:
    assert _check(CLEAN, manifest_text=None).status == "fail"
