"""Datasets versioned with DVC: track, compare with what is tracked, restore.

A dataset is a file beside the agent with a DVC pointer (``FILE.dvc``) next to
it. The DVC repository is the one above the agent folder, else one created at
the root of the git repository holding it (or in the agent folder, without
git). The DVC cache lives in the agentgov home (``<home>/dvc-cache``) unless the
team's DVC configuration names one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentgov.data.errors import VersioningError

if TYPE_CHECKING:
    from dvc.repo import Repo

    from agentgov.registry.manifest import Dataset

OK, MODIFIED, UNTRACKED, MISSING = "ok", "modified", "untracked", "missing"
CACHE_FOLDER = "dvc-cache"


@dataclass(frozen=True)
class DatasetState:
    """One manifest dataset compared with its DVC pointer."""

    path: str  # relative to the agent folder, as in the manifest
    role: str
    state: str  # ok, modified, untracked or missing
    tracked_md5: str | None
    current_md5: str | None
    suite: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Restored:
    """What ``restore`` did with one dataset."""

    path: str
    md5: str | None
    outcome: str  # restored, unchanged, or why it could not be restored
    source: str = ""  # cache or remote

    @property
    def ok(self) -> bool:
        return self.outcome in ("restored", "unchanged")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def pointer_of(file: Path) -> Path:
    return file.with_name(file.name + ".dvc")


def read_pointer(file: Path) -> dict[str, Any] | None:
    """The ``outs`` entry of ``file``'s DVC pointer (md5, size, hash), or None when untracked.

    Read bounded (:func:`agentgov.registry.lineage.pointer_out`): a hostile pointer is refused, never expanded.
    """
    from agentgov.registry.lineage import pointer_out

    pointer = pointer_of(file)
    if not pointer.is_file():
        return None
    out = pointer_out(file)
    if out is None:
        raise VersioningError(f"{pointer} is not a DVC pointer file", hint=f"delete it and run `agentgov data add {file}`")
    return out


# (path, inode, size, mtime) -> md5, as DVC's own state database keeps it: a
# registration checks each dataset in the flow and again in the engine, and
# should read a large file once.
_MD5_MEMO: dict[tuple[str, int, int, int], str] = {}


def file_md5(file: Path) -> str:
    """The md5 DVC 3 records for a file: the md5 of its bytes."""
    info = file.stat()
    key = (str(file.resolve()), info.st_ino, info.st_size, info.st_mtime_ns)
    if key in _MD5_MEMO:
        return _MD5_MEMO[key]
    digest = hashlib.md5(usedforsecurity=False)
    with open(file, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    _MD5_MEMO[key] = digest.hexdigest()
    return _MD5_MEMO[key]


def dataset_state(agent_dir: Path, path: str, role: str = "", suite: str | None = None) -> DatasetState:
    file = agent_dir / path
    out = read_pointer(file)
    tracked = str(out["md5"]) if out else None
    if not file.exists():
        return DatasetState(path, role, MISSING, tracked, None, suite)
    if file.is_dir():
        raise VersioningError(f"{file} is a folder; agentgov versions dataset files (CSV or Parquet)")
    current = file_md5(file)
    if tracked is None:
        state = UNTRACKED
    else:
        state = OK if current == tracked else MODIFIED
    return DatasetState(path, role, state, tracked, current, suite)


def dataset_states(agent_dir: Path, datasets: Iterable[Dataset]) -> tuple[DatasetState, ...]:
    """Each manifest dataset compared with what DVC tracks; hashes the files, imports no DVC."""
    return tuple(dataset_state(agent_dir, d.path, d.role, getattr(d, "suite", None)) for d in datasets)


@contextmanager
def quiet_dvc() -> Iterator[None]:
    """DVC logs hints ("To track the changes with git, run ...") and tqdm bars at INFO: keep them off the terminal."""
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _import_dvc()
        loggers = [logging.getLogger(name) for name in ("dvc", "dvc_data", "dvc_objects", "scmrepo")]
        levels = [logger.level for logger in loggers]
        for logger in loggers:
            logger.setLevel(logging.CRITICAL)  # its errors reach the user as VersioningError instead
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


def _import_dvc() -> None:
    """Import DVC without its side effects on the terminal.

    ``import dvc`` calls ``colorama.init()``, which registers an exit handler
    writing ESC[0m to whatever stdout was then: inside agentgov's spinner that
    is rich's proxy, which prints it as visible "[0m". Undo both.
    """
    import sys

    if "dvc" in sys.modules:
        return
    streams = sys.stdout, sys.stderr
    import atexit

    import colorama.initialise
    import dvc  # noqa: F401

    atexit.unregister(colorama.initialise.reset_all)
    sys.stdout, sys.stderr = streams


def _git_root(folder: Path) -> Path | None:
    try:
        found = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], cwd=folder, capture_output=True, text=True, check=True, timeout=30
        ).stdout.strip()
    except (subprocess.CalledProcessError, FileNotFoundError, subprocess.TimeoutExpired):
        return None
    return Path(found) if found else None


def _dvc_root(folder: Path) -> Path | None:
    for candidate in (folder, *folder.parents):
        if (candidate / ".dvc").is_dir():
            return candidate
    return None


def open_repo(folder: Path, home: Path, *, create: bool) -> tuple[Repo, bool]:
    """The DVC repository holding ``folder`` and whether it was created now; its cache set to the home's."""
    _import_dvc()
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    folder = folder.resolve()
    root = _dvc_root(folder)
    created = False
    with quiet_dvc():
        try:
            if root is None:
                if not create:
                    raise VersioningError(f"no DVC repository holds {folder}", hint="track a dataset with `agentgov data add PATH`")
                git_root = _git_root(folder)
                root = git_root or folder
                Repo.init(str(root), no_scm=git_root is None).close()
                created = True
            repo = Repo(str(root))
            cache = str(home.resolve() / CACHE_FOLDER)
            ours = repo.config.read("local").get("cache", {}).get("dir")
            team = _team_cache_dir(repo)
            # The machine-local config outranks the team's: drop our setting once the team names a cache.
            if (not team and ours != cache) or (team and ours == cache):
                with repo.config.edit("local") as local:
                    if team:
                        del local["cache"]["dir"]
                    else:
                        local["cache"]["dir"] = cache
                repo.close()
                repo = Repo(str(root))
        except DvcException as exc:
            raise VersioningError(f"DVC cannot open a repository at {root or folder}: {exc}") from None
    return repo, created


def _team_cache_dir(repo: Repo) -> bool:
    """Whether the repository's own, the user's or the system's DVC config sets cache.dir."""
    return any(repo.config.read(level).get("cache", {}).get("dir") for level in ("repo", "global", "system"))


def default_remote(repo: Repo) -> str | None:
    return repo.config.get("core", {}).get("remote") or None


@dataclass(frozen=True)
class Tracked:
    """What ``track`` did: the pointer's ``outs`` entry and what changed around it."""

    out: dict[str, Any]
    dvc_initialised: bool
    pushed: bool
    untracked_from_git: bool = False  # the file was in git's index and was taken out of it (the file stays)
    staged: tuple[str, ...] = ()  # the pointer and .gitignore, staged in git (paths from the git root)


def track(file: Path, *, home: Path, folder: Path | None = None) -> Tracked:
    """``dvc add`` the file (and ``dvc push`` it to the default remote, if any).

    Without a DVC or git repository above it, DVC is initialised in ``folder``
    (the agent's folder; by default the file's own). A file that git tracks is
    first taken out of git's index (``git rm --cached``, the file stays), as
    DVC asks; in a git repository the pointer and the ``.gitignore`` DVC wrote
    are staged (what DVC's ``core.autostage`` does), so the change is ready to
    commit. Call it inside :func:`restoring_git_on_failure` to undo all of it
    when a later step fails.
    """
    _import_dvc()
    from dvc.exceptions import DvcException

    file = file.resolve()
    if not file.is_file():
        kind = "a folder" if file.is_dir() else "not there"
        raise VersioningError(f"{file} is {kind}; `agentgov data add` tracks a dataset file (CSV or Parquet)")
    git_root = _git_root(file.parent)
    untracked = git_root is not None and _untrack_from_git(file, git_root)
    repo, created = open_repo(folder or file.parent, home, create=True)
    pushed = False
    with quiet_dvc():
        try:
            repo.add(str(file))
            if default_remote(repo):
                repo.push(targets=[str(pointer_of(file))])
                pushed = True
        except DvcException as exc:
            raise VersioningError(f"DVC could not track {file}: {_one_line(exc)}") from None
        except ImportError as exc:  # a remote whose DVC plugin is not installed (s3://... without dvc-s3)
            raise VersioningError(f"DVC could not push {file} to its remote: {_one_line(exc)}") from None
        finally:
            repo.close()
    out = read_pointer(file)
    assert out is not None, "dvc add wrote no pointer"
    staged = _stage(git_root, (pointer_of(file), file.parent / ".gitignore")) if git_root is not None else ()
    return Tracked(out, created, pushed, untracked, staged)


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=60)


def _from_root(path: Path, root: Path) -> str:
    return path.resolve().relative_to(root.resolve()).as_posix()


def _untrack_from_git(file: Path, git_root: Path) -> bool:
    """``git rm --cached`` the file if git's index holds it; whether it did."""
    relative = _from_root(file, git_root)
    if _git(git_root, "ls-files", "--error-unmatch", "--", relative).returncode != 0:
        return False
    removed = _git(git_root, "rm", "--cached", "-q", "--", relative)
    if removed.returncode != 0:
        raise VersioningError(
            f"{file} is tracked by git and git would not let go of it: {_one_line(Exception(removed.stderr))}",
            hint=f"commit or unstage your changes to it, or run `git rm --cached {relative}` yourself",
        )
    return True


def _stage(git_root: Path, files: Iterable[Path]) -> tuple[str, ...]:
    """``git add`` those of ``files`` that exist; their paths from the git root."""
    present = [_from_root(f, git_root) for f in files if f.is_file()]
    if not present:
        return ()
    added = _git(git_root, "add", "--", *present)
    if added.returncode != 0:
        raise VersioningError(f"git could not stage {', '.join(present)}: {_one_line(Exception(added.stderr))}")
    return tuple(present)


@contextmanager
def restoring_git_on_failure(file: Path, folder: Path, also: Iterable[Path] = ()) -> Iterator[None]:
    """Undo what tracking ``file`` (for the agent in ``folder``) did, if the block fails.

    Saved first, put back on any exception: git's index (byte for byte), the
    files ``dvc init`` and ``dvc add`` create or change (``.dvc/``,
    ``.dvcignore``, the pointer, the ``.gitignore`` beside the file) and the
    paths in ``also`` (the manifest). A folder that did not exist is removed;
    the DVC cache in the home is left as it is (git never sees it).
    """
    file, folder = file.resolve(), folder.resolve()
    git_root = _git_root(folder)
    root = _dvc_root(folder) or git_root or folder
    paths = [root / ".dvc", root / ".dvcignore", pointer_of(file), file.parent / ".gitignore", *also]
    if git_root is not None:
        found = _git(git_root, "rev-parse", "--git-path", "index")
        if found.returncode == 0 and found.stdout.strip():
            paths.append(git_root / found.stdout.strip())
    saved = {path: _snapshot(path) for path in paths}
    try:
        yield
    except BaseException:
        for path, before in saved.items():
            _put_back(path, before)
        raise


def _snapshot(path: Path) -> bytes | bool | None:
    """A file's bytes, True for a folder, None for nothing there."""
    if path.is_dir():
        return True
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _put_back(path: Path, before: bytes | bool | None) -> None:
    import shutil

    if before is True:
        return  # the folder was there: DVC only adds ignored state to it (config.local, tmp/)
    if before is None:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        return
    if _snapshot(path) != before:
        path.write_bytes(before)


def restore(agent_dir: Path, outs: Mapping[str, Mapping[str, Any] | str], *, home: Path) -> tuple[Restored, ...]:
    """Put back each dataset (path relative to ``agent_dir``) exactly as the pointer entry ``out`` records it.

    Writes the pointer, then checks the file out of the DVC cache, fetching it
    from the default remote first when the cache lacks it. A string instead of
    an entry says why that dataset cannot be restored.
    """
    _import_dvc()
    from dvc.exceptions import CheckoutError, DvcException

    agent_dir = agent_dir.resolve()
    repo, _ = open_repo(agent_dir, home, create=True)
    results = []
    with quiet_dvc():
        try:
            for path, out in outs.items():
                file = agent_dir / path
                if isinstance(out, str):
                    results.append(Restored(path, None, out))
                    continue
                md5 = str(out["md5"])
                if file.is_file() and file_md5(file) == md5:
                    _write_pointer(file, out)
                    results.append(Restored(path, md5, "unchanged"))
                    continue
                file.parent.mkdir(parents=True, exist_ok=True)
                _write_pointer(file, out)
                target = str(pointer_of(file))
                source = "cache"
                try:
                    repo.checkout(targets=[target], force=True)
                except CheckoutError:
                    if not default_remote(repo):
                        results.append(Restored(path, md5, "not in the DVC cache and no DVC remote is configured"))
                        continue
                    source = "remote"
                    try:
                        repo.fetch(targets=[target])
                        repo.checkout(targets=[target], force=True)
                    except DvcException as exc:
                        results.append(Restored(path, md5, f"not in the DVC cache nor the remote: {_one_line(exc)}"))
                        continue
                if not file.is_file() or file_md5(file) != md5:
                    results.append(Restored(path, md5, "DVC restored a file with another md5", source))
                    continue
                results.append(Restored(path, md5, "restored", source))
        except DvcException as exc:
            raise VersioningError(f"DVC could not restore datasets in {agent_dir}: {_one_line(exc)}") from None
        finally:
            repo.close()
    return tuple(results)


def _write_pointer(file: Path, out: Mapping[str, Any]) -> None:
    import yaml

    entry = {k: out[k] for k in ("md5", "size", "hash") if k in out}
    entry["md5"] = str(entry["md5"])
    entry["path"] = file.name
    text = yaml.safe_dump({"outs": [entry]}, sort_keys=False)
    try:
        current = read_pointer(file)
    except VersioningError:
        current = None
    if current is None or str(current.get("md5")) != entry["md5"]:
        pointer_of(file).write_text(text, encoding="utf-8")


def _one_line(exc: Exception) -> str:
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    return " ".join(line.strip() for line in text.splitlines() if line.strip())
