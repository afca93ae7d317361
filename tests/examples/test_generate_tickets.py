"""The synthetic ticket generator: same seed, same files; labelled synthetic; the drift mode is a product launch."""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from pathlib import Path


def _md5s(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.csv"))}


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_the_same_seed_writes_the_same_files_and_they_are_the_ones_the_example_ships(
    generator, example_dir: Path, tmp_path: Path
) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for folder in (first, second):
        generator.write_splits(folder)
        generator.write_splits(folder, drift=True)
    assert _md5s(first) == _md5s(second)
    assert set(_md5s(first)) == {f"synthetic_tickets_{s}.csv" for s in ("train", "eval", "reference", "drift")}
    assert _md5s(first) == {name: md5 for name, md5 in _md5s(example_dir / "data").items() if name in _md5s(first)}
    other = tmp_path / "other-seed"
    generator.write_splits(other, seed=generator.SEED + 1)
    assert _md5s(other)["synthetic_tickets_eval.csv"] != _md5s(first)["synthetic_tickets_eval.csv"]


def test_every_row_is_labelled_synthetic_with_a_queue_and_a_priority(generator) -> None:
    for split, size in generator.SPLITS.items():
        rows = generator.tickets(split)
        assert len(rows) == size
        assert {r["synthetic"] for r in rows} == {"true"}
        assert {r["queue"] for r in rows} == set(generator.QUEUES)
        assert {r["priority"] for r in rows} <= set(generator.PRIORITIES)
        assert len({r["ticket_id"] for r in rows}) == size
    ids = [{r["ticket_id"] for r in generator.tickets(s)} for s in generator.SPLITS]
    assert not (ids[0] & ids[1]) and not (ids[1] & ids[2])


def test_tickets_vary_in_length_typos_tiers_and_channels_and_the_customer_tier_matches_the_store(generator) -> None:
    rows = generator.tickets("reference")
    lengths = [len(r["body"]) for r in rows]
    assert max(lengths) > 2 * min(lengths)
    known_words = {
        w.strip(".,?!'").lower() for _, q in generator.TEMPLATES.items() for t in q for w in " ".join(t).split()
    }
    typos = sum(
        any(w.strip(".,?!'").lower() not in known_words and w.isalpha() and len(w) > 3 for w in r["subject"].split())
        for r in rows
    )
    assert typos > 20
    assert set(Counter(r["customer_tier"] for r in rows)) == set(generator.TIERS)
    assert set(Counter(r["channel"] for r in rows)) == set(generator.CHANNELS)
    tiers = {c["id"]: c["tier"] for c in generator.customers()}
    assert all(tiers[r["customer_id"]] == r["customer_tier"] for r in rows)


def test_the_training_split_lacks_the_phrasings_held_out_for_eval(generator) -> None:
    unseen = {templates[-1][0] for templates in generator.TEMPLATES.values()}
    subjects = lambda split: {r["subject"] for r in generator.tickets(split)}  # noqa: E731
    assert not unseen & subjects("train")
    assert unseen & subjects("eval")


def test_drift_mode_adds_the_launch_topic_its_vocabulary_and_a_changed_channel_mix(generator) -> None:
    reference, drift = generator.tickets("reference"), generator.tickets("drift")
    launch = [r for r in drift if "hubone" in r["body"].lower()]
    assert 0.3 * len(drift) < len(launch) < 0.5 * len(drift)
    assert not any("hubone" in r["body"].lower() or "firmware" in r["body"].lower() for r in reference)
    share = lambda rows, channel: sum(r["channel"] == channel for r in rows) / len(rows)  # noqa: E731
    assert share(drift, "chat") > share(reference, "chat") + 0.15
    assert share(drift, "email") < share(reference, "email") - 0.15
    assert {r["queue"] for r in drift} <= set(generator.QUEUES)


def test_the_command_line_writes_the_splits_or_the_drifted_traffic(generator, tmp_path: Path, capsys) -> None:
    generator.main(["--out", str(tmp_path)])
    generator.main(["--out", str(tmp_path), "--drift"])
    assert "synthetic" in capsys.readouterr().out
    assert len(_read(tmp_path / "synthetic_tickets_drift.csv")) == generator.DRIFT_ROWS
    assert _read(tmp_path / "synthetic_tickets_train.csv")[0].keys() == set(generator.COLUMNS)
