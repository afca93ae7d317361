"""Policy ``lineage-complete``: the version can be traced to clean code, tracked data and its manifest."""

from __future__ import annotations

import hashlib
from types import MappingProxyType

from agentgov.core import PolicyResult, Register, Stage, hookimpl
from agentgov.policies import PolicyContext


class LineageComplete:
    name = "lineage-complete"
    description = "Registered from a clean git commit, every dataset DVC-tracked and unchanged, manifest hash matches."
    stages = frozenset({Stage.SHADOW, Stage.CANARY, Stage.PRODUCTION})
    parameters = MappingProxyType({"allow_dirty": "accept uncommitted code or changed data, recorded as a warning (default false)"})

    def evaluate(self, context: PolicyContext) -> PolicyResult:
        lineage = context.lineage
        allow_dirty = context.param("allow_dirty", False) is True
        problems: list[str] = []
        soft: list[str] = []
        commit = lineage.get("git_commit")
        if not commit or commit == "none":
            problems.append("not registered from a git repository")
        elif lineage.get("git_dirty") != "false":
            (soft if allow_dirty else problems).append(f"registered with uncommitted changes (git_dirty={lineage.get('git_dirty')})")
        if lineage.get("allow_dirty") == "true":
            (soft if allow_dirty else problems).append("registered with --allow-dirty")
        for key, value in sorted(lineage.items()):
            if key.startswith("dataset.") and value in ("untracked", "unreadable", "modified", "missing"):
                (soft if allow_dirty else problems).append(f"dataset {key.removeprefix('dataset.')} is {value}")
        expected = lineage.get("manifest_sha256")
        text = context.manifest_text()
        if not expected or text is None:
            problems.append("no registered manifest or manifest hash to compare")
        elif hashlib.sha256(text.encode("utf-8")).hexdigest() != expected:
            problems.append("the registered agent.yaml does not match the manifest hash in the lineage")
        evidence = [f"git commit {commit}"] if commit and commit != "none" else []
        if problems:
            return context.failed("; ".join(problems + soft), evidence=evidence)
        if soft:
            return context.warned("allowed by allow_dirty: " + "; ".join(soft), evidence=evidence)
        datasets = sum(1 for k in lineage if k.startswith("dataset."))
        return context.passed(f"clean commit {commit[:10]}, {datasets} tracked dataset(s), manifest hash matches", evidence=evidence)


@hookimpl
def agentgov_register_policies(register: Register) -> None:
    register(LineageComplete())
