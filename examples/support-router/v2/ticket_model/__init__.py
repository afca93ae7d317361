"""The fitted TF-IDF + logistic-regression classifiers of v2, rebuilt from plain files: no pickle anywhere.

``weights.json`` holds each classifier's settings, vocabulary, classes and
IDF weights; ``weights.npz`` its coefficients and intercepts (read with
``allow_pickle=False``). ``scripts/train_v2.py`` writes both and
checks that the rebuilt classifiers predict exactly what the fitted ones do.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

HERE = Path(__file__).resolve().parent
SETTINGS_FILE = HERE / "weights.json"
ARRAYS_FILE = HERE / "weights.npz"
VECTORIZER_PARAMS = (
    "analyzer",
    "ngram_range",
    "lowercase",
    "sublinear_tf",
    "min_df",
    "max_features",
    "norm",
    "use_idf",
    "smooth_idf",
)


class TextClassifier:
    """One target (``queue`` or ``priority``): text in, (label, probability) out."""

    def __init__(self, vectorizer: TfidfVectorizer, model: LogisticRegression) -> None:
        self.vectorizer, self.model = vectorizer, model

    def predict(self, text: str) -> tuple[str, float]:
        probabilities = self.model.predict_proba(self.vectorizer.transform([text]))[0]
        best = int(np.argmax(probabilities))
        return str(self.model.classes_[best]), float(probabilities[best])


def export(classifiers: dict[str, tuple[TfidfVectorizer, LogisticRegression]], folder: Path = HERE) -> None:
    """Write fitted classifiers as ``weights.json`` and ``weights.npz`` in ``folder``."""
    settings, arrays = {}, {}
    for target, (vectorizer, model) in classifiers.items():
        params = vectorizer.get_params()
        settings[target] = {
            "vectorizer": {k: params[k] for k in VECTORIZER_PARAMS},
            "vocabulary": {term: int(i) for term, i in vectorizer.vocabulary_.items()},
            "classes": [str(c) for c in model.classes_],
        }
        arrays[f"{target}.idf"] = vectorizer.idf_
        arrays[f"{target}.coef"] = model.coef_
        arrays[f"{target}.intercept"] = model.intercept_
    (Path(folder) / SETTINGS_FILE.name).write_text(json.dumps(settings, sort_keys=True), encoding="utf-8")
    np.savez_compressed(Path(folder) / ARRAYS_FILE.name, **arrays)


def load(folder: Path = HERE) -> dict[str, TextClassifier]:
    """The classifiers written by :func:`export`, rebuilt from their parameters."""
    settings = json.loads((Path(folder) / SETTINGS_FILE.name).read_text(encoding="utf-8"))
    with np.load(Path(folder) / ARRAYS_FILE.name, allow_pickle=False) as arrays:
        loaded = {}
        for target, spec in settings.items():
            options = {**spec["vectorizer"], "ngram_range": tuple(spec["vectorizer"]["ngram_range"])}
            vectorizer = TfidfVectorizer(**options, vocabulary=spec["vocabulary"])
            vectorizer._validate_vocabulary()
            vectorizer.idf_ = arrays[f"{target}.idf"]
            model = LogisticRegression()
            model.classes_ = np.array(spec["classes"])
            model.coef_ = arrays[f"{target}.coef"]
            model.intercept_ = arrays[f"{target}.intercept"]
            model.n_features_in_ = model.coef_.shape[1]
            loaded[target] = TextClassifier(vectorizer, model)
    return loaded
