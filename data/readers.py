"""Reading a dataset file (CSV or Parquet) into pandas, with one clear error per way it can be wrong."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from agentgov.data.errors import DatasetUnreadable

if TYPE_CHECKING:
    import pandas as pd

CSV_SUFFIXES = (".csv",)
PARQUET_SUFFIXES = (".parquet", ".pq")


def read_dataset(file: Path) -> pd.DataFrame:
    """The rows of ``file``; raises :class:`DatasetUnreadable` naming the file and what is wrong."""
    file = Path(file)
    suffix = file.suffix.lower()
    if suffix not in CSV_SUFFIXES + PARQUET_SUFFIXES:
        raise DatasetUnreadable(f"{file}: unsupported format '{file.suffix or '(no extension)'}'; agentgov reads CSV (.csv) and Parquet (.parquet)")
    if not file.is_file():
        raise DatasetUnreadable(f"{file}: {'is a folder' if file.is_dir() else 'no such file'}")
    if suffix in CSV_SUFFIXES:
        frame = _read_csv(file)
    else:
        frame = _read_parquet(file)
    if len(frame.columns) == 0:
        raise DatasetUnreadable(f"{file}: no columns")
    if len(frame) == 0:
        raise DatasetUnreadable(f"{file}: no rows, only the header ({', '.join(map(str, frame.columns[:8]))})")
    names = frame.attrs.pop("header", None) or [str(c) for c in frame.columns]
    repeated = sorted({c for c in names if names.count(c) > 1})
    if repeated:
        raise DatasetUnreadable(f"{file}: repeated column names {', '.join(repeated)}")
    return frame


def _read_csv(file: Path) -> pd.DataFrame:
    import pandas as pd

    try:
        frame = pd.read_csv(file, encoding="utf-8-sig", encoding_errors="strict", low_memory=False)
        if any("." in str(c) for c in frame.columns):  # pandas renames a repeated "a" to "a.1": look at the header itself
            header = [str(c) for c in pd.read_csv(file, encoding="utf-8-sig", header=None, nrows=1).iloc[0]]
            frame.attrs["header"] = header
        return frame
    except UnicodeDecodeError as exc:
        offset = _first_bad_byte(file)
        where = f" (byte {offset})" if offset is not None else ""
        raise DatasetUnreadable(f"{file}: not UTF-8 text{where}; save it as UTF-8 ({exc.reason})") from None
    except pd.errors.EmptyDataError:
        raise DatasetUnreadable(f"{file}: empty file, no header and no rows") from None
    except pd.errors.ParserError as exc:
        # pandas' message names the line: "Expected 3 fields in line 5, saw 4"
        detail = str(exc).strip().splitlines()[-1].removeprefix("Error tokenizing data. C error: ")
        raise DatasetUnreadable(f"{file}: rows do not match the header: {detail}") from None
    except (OSError, ValueError) as exc:
        raise DatasetUnreadable(f"{file}: cannot read as CSV: {exc}") from None


def _read_parquet(file: Path) -> pd.DataFrame:
    import pandas as pd

    try:
        return pd.read_parquet(file)
    except ImportError:
        raise DatasetUnreadable(f"{file}: reading Parquet needs pyarrow (pip install pyarrow)") from None
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError and others for a file that is not Parquet
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatasetUnreadable(f"{file}: not a readable Parquet file: {message}") from None


def _first_bad_byte(file: Path) -> int | None:
    data = file.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    return None
