from __future__ import annotations

from pathlib import Path

import pytest

from agentgov.data.errors import DatasetUnreadable
from agentgov.data.readers import read_dataset


def test_reads_csv_and_parquet_alike(tmp_path: Path) -> None:
    csv = tmp_path / "a.csv"
    csv.write_text("subject,score\nhello,1.5\nbye,2\n", encoding="utf-8")
    frame = read_dataset(csv)
    assert list(frame.columns) == ["subject", "score"] and len(frame) == 2
    frame.to_parquet(tmp_path / "a.parquet")
    assert read_dataset(tmp_path / "a.parquet").equals(frame)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "empty file, no header and no rows"),
        ("header.csv", b"subject,score\n", r"no rows, only the header \(subject, score\)"),
        ("latin1.csv", "subject\ncaf\u00e9\n".encode("latin-1"), r"not UTF-8 text \(byte 11\); save it as UTF-8"),
        ("ragged.csv", b"a,b\n1,2\n1,2,3\n", "rows do not match the header: Expected 2 fields in line 3, saw 3"),
        ("twice.csv", b"a,a\n1,2\n", "repeated column names a"),
        ("broken.parquet", b"PAR1 this is not parquet", "not a readable Parquet file"),
        ("data.xlsx", b"PK", r"unsupported format '.xlsx'; agentgov reads CSV \(.csv\) and Parquet \(.parquet\)"),
        ("absent.csv", None, "no such file"),
    ],
)
def test_each_bad_input_is_one_clear_error_naming_the_file(tmp_path: Path, name: str, content: bytes | None, message: str) -> None:
    file = tmp_path / name
    if content is not None:
        file.write_bytes(content)
    with pytest.raises(DatasetUnreadable, match=message) as caught:
        read_dataset(file)
    assert str(caught.value).startswith(f"{file}: ") and "\n" not in str(caught.value)
