"""Train v2 of the support router on the SYNTHETIC training split and write its weights into ``v2/ticket_model/``.

Deterministic: the split comes from ``data/generate_tickets.py`` (fixed seed) unless
``--train`` names a CSV, and lbfgs is deterministic. The weights are
plain JSON and NumPy arrays (no pickle); the script checks that the rebuilt
classifiers predict exactly what the fitted ones do, then prints the queue and
priority accuracy on the eval split::

    python examples/support-router/scripts/train_v2.py
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
V2 = HERE / "v2"


def _imports() -> None:
    for folder in (HERE / "data", V2):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))


def read(path: Path) -> list[dict[str, str]]:
    with Path(path).open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def fit(rows: list[dict[str, str]]) -> dict:
    """Fitted (vectorizer, model) per target, ``queue`` and ``priority``."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    _imports()
    from router import priority_text, ticket_text

    texts = {
        "queue": [ticket_text(r) for r in rows],
        "priority": [priority_text(r, r["customer_tier"]) for r in rows],
    }
    fitted = {}
    for target, text in texts.items():
        vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=2, max_features=4000
        )
        model = LogisticRegression(C=5.0, max_iter=1000)  # lbfgs: deterministic
        model.fit(vectorizer.fit_transform(text), [r[target] for r in rows])
        fitted[target] = (vectorizer, model)
    return fitted


def accuracy(classify, rows: list[dict[str, str]]) -> dict[str, float]:
    decisions = [classify(r, r["customer_tier"]) for r in rows]
    return {
        "queue": sum(d.queue == r["queue"] for d, r in zip(decisions, rows, strict=True)) / len(rows),
        "priority": sum(d.priority == r["priority"] for d, r in zip(decisions, rows, strict=True)) / len(rows),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, help="training CSV (default: the generator's train split)")
    parser.add_argument("--eval", type=Path, help="eval CSV (default: the generator's eval split)")
    parser.add_argument("--out", type=Path, default=V2 / "ticket_model", help="where the weights go")
    args = parser.parse_args(argv)
    _imports()
    import generate_tickets
    import ticket_model

    train = read(args.train) if args.train else generate_tickets.tickets("train")
    held_out = read(args.eval) if args.eval else generate_tickets.tickets("eval")
    started = time.perf_counter()
    fitted = fit(train)
    ticket_model.export(fitted, args.out)
    rebuilt = ticket_model.load(args.out)
    for target, (vectorizer, model) in fitted.items():
        text = [r["body"] for r in held_out]
        if list(model.predict(vectorizer.transform(text))) != [rebuilt[target].predict(t)[0] for t in text]:
            raise SystemExit(f"the rebuilt {target} classifier does not predict what the fitted one does")
    from router import TfidfRouter

    router = TfidfRouter.__new__(TfidfRouter)
    router.classifiers = rebuilt
    scores = accuracy(router.classify, held_out)
    print(
        f"trained on {len(train)} synthetic tickets in {time.perf_counter() - started:.1f} s; wrote {args.out}; "
        f"eval ({len(held_out)}): queue accuracy {scores['queue']:.3f}, priority accuracy {scores['priority']:.3f}"
    )


if __name__ == "__main__":
    main()
