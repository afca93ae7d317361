"""Copy ``common/`` (the acting code, the tool schemas, the helpdesk SQL and the data contract) into each version's folder.

A registered version packages only its own folder, and a manifest may name
no file outside it, so each version carries a copy; the tests check that the
copies equal ``common/``. Run after editing anything in ``common/``::

    python examples/support-router/scripts/sync_common.py
"""

from __future__ import annotations

import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
COMMON = HERE / "common"
VERSIONS = ("v1", "v2", "v3")


def shared_files() -> list[Path]:
    """The files of ``common/``, relative to it."""
    return sorted(p.relative_to(COMMON) for p in COMMON.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def main() -> None:
    for version in VERSIONS:
        for relative in shared_files():
            target = HERE / version / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(COMMON / relative, target)
        print(f"copied {len(shared_files())} files of common/ into {version}/")


if __name__ == "__main__":
    main()
