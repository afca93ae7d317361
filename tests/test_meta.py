"""Keep the plugin boundary honest: every hook is tested and documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentgov.core import hookspecs

REPO = Path(__file__).resolve().parents[1]
HOOKS = sorted(n for n in dir(hookspecs) if n.startswith("agentgov_"))


def test_there_are_hooks() -> None:
    assert HOOKS == [
        "agentgov_mask_patterns",
        "agentgov_on_event",
        "agentgov_register_connectors",
        "agentgov_register_deploy_targets",
        "agentgov_register_evaluators",
        "agentgov_register_policies",
    ]


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook: str) -> None:
    tests = [p for p in (REPO / "tests").rglob("test_*.py") if p.name != "test_meta.py"]
    assert any(hook in p.read_text() for p in tests), f"no test mentions {hook}"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented(hook: str) -> None:
    assert hook in (REPO / "docs" / "plugin-hooks.md").read_text(), f"docs/plugin-hooks.md does not document {hook}"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_spec_says_how_it_is_called(hook: str) -> None:
    doc = getattr(hookspecs, hook).__doc__ or ""
    assert len(doc.split()) >= 15, f"{hook} needs a docstring that says how results combine"
