"""What drift is measured on: an inference log (or any frame) turned into comparable columns.

Kept: request fields (``request.*`` columns, or any column of a plain data set
such as an eval file), the response's action, label and confidence. Dropped:
identifiers, times, latency, cost and errors (the latency, cost and error
policies judge those). Text columns (strings with more distinct values than
half the rows, :func:`agentgov.evals.drift_compare.infer_column_type`) are
replaced by two exact descriptors:

- ``<column>:length``: the number of characters;
- ``<column>:oov_share``: the share of a row's words absent from the reference
  vocabulary. In the reference itself a word counts as in the vocabulary only
  if some *other* reference row has it (leave one out), so the two sides are
  measured alike and an unshifted current window does not look drifted. A row
  with characters but no word (only punctuation) is wholly out of vocabulary
  (1.0); an empty row has no share (NaN).

Words are lowercase runs of letters and digits. :func:`feature_scales` gives
each descriptor's smallest scale, the unit in which a change of its
distribution is judged large or negligible: a change of the mean out-of-
vocabulary share by less than a tenth of the words, or of the length by less
than a character, is negligible however constant the reference was.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

from agentgov.core.errors import InvalidValue
from agentgov.evals.drift_compare import infer_column_type
from agentgov.evals.inference_log import META_COLUMNS, REQUEST_PREFIX, RESPONSE_PREFIX

if TYPE_CHECKING:
    import pandas as pd

OUTPUT_COLUMNS = (f"{RESPONSE_PREFIX}action", f"{RESPONSE_PREFIX}label", f"{RESPONSE_PREFIX}confidence")
DESCRIPTOR_SCALES = {":oov_share": 1.0, ":length": 10.0}
"""Descriptor suffix -> its smallest scale: a share of words (1.0), ten characters (so 0.1 of it is one character)."""
_WORD = re.compile(r"[a-z0-9]+")


def comparable(reference: pd.DataFrame, current: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two frames reduced to the columns both have, text replaced by its descriptors."""
    import pandas as pd

    reference, current = _aligned(reference).reset_index(drop=True), _aligned(current).reset_index(drop=True)
    names = [c for c in current.columns if c in reference.columns and _wanted(c, reference[c], current[c])]
    if not names:
        raise InvalidValue(
            "the reference and the current data share no request or output columns",
            hint="a reference file needs the request fields as columns (subject or request.subject)",
        )
    ref_out: dict[str, pd.Series] = {}
    cur_out: dict[str, pd.Series] = {}
    for name in names:
        kind = infer_column_type(current[name])
        if kind == "text" or (kind is None and _is_text(current[name])):
            ref_text, cur_text = _strings(reference[name]), _strings(current[name])
            ref_out[f"{name}:length"] = ref_text.str.len().astype("float64")
            cur_out[f"{name}:length"] = cur_text.str.len().astype("float64")
            ref_out[f"{name}:oov_share"], cur_out[f"{name}:oov_share"] = _oov_shares(ref_text, cur_text)
        else:
            ref_out[name], cur_out[name] = reference[name], current[name]
    return pd.DataFrame(ref_out).reset_index(drop=True), pd.DataFrame(cur_out).reset_index(drop=True)


def feature_scales(columns: Iterable[str]) -> dict[str, float]:
    """The smallest scale of each descriptor among ``columns`` (see the module's docstring)."""
    return {str(c): scale for c in columns for suffix, scale in DESCRIPTOR_SCALES.items() if str(c).endswith(suffix)}


def _aligned(frame: pd.DataFrame) -> pd.DataFrame:
    """A plain data set's columns named as the log names them: ``subject`` -> ``request.subject``."""
    renamed = {}
    for column in frame.columns:
        text = str(column)
        if text in META_COLUMNS or text.startswith((REQUEST_PREFIX, RESPONSE_PREFIX)):
            continue
        if text in ("action", "label", "confidence"):
            renamed[column] = f"{RESPONSE_PREFIX}{text}"
        else:
            renamed[column] = f"{REQUEST_PREFIX}{text}"
    return frame.rename(columns=renamed)


def _wanted(name: str, reference: pd.Series, current: pd.Series) -> bool:
    if name in OUTPUT_COLUMNS:
        return bool(current.notna().any() and reference.notna().any())
    return name.startswith(REQUEST_PREFIX)


def _is_text(series: pd.Series) -> bool:
    present = series.dropna()
    return not present.empty and bool(present.map(lambda v: isinstance(v, str)).all())


def _strings(series: pd.Series) -> pd.Series:
    return series.map(lambda v: v if isinstance(v, str) else ("" if v is None or v != v else str(v)))


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _oov_shares(reference: pd.Series, current: pd.Series) -> tuple[pd.Series, pd.Series]:
    import pandas as pd

    ref_words = [_words(t) for t in reference]
    rows_with = Counter(word for words in ref_words for word in set(words))

    def share(text: str, words: list[str], seen_elsewhere) -> float:
        if not words:
            return 1.0 if text.strip() else float("nan")  # punctuation only: nothing in it is known vocabulary
        return sum(1 for w in words if not seen_elsewhere(w)) / len(words)

    ref_share = [share(t, words, lambda w: rows_with[w] > 1) for t, words in zip(reference, ref_words, strict=True)]
    cur_share = [share(t, _words(t), lambda w: rows_with[w] > 0) for t in current]
    return pd.Series(ref_share, dtype="float64"), pd.Series(cur_share, dtype="float64")
