"""Adding a dataset to ``agent.yaml``, or a suite to a listed one, by editing its text, so comments and key order survive."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from agentgov.data.errors import DataError


def append_dataset(manifest_path: Path, path: str, role: str, suite: str | None = None) -> None:
    """Append ``{path, role[, suite]}`` to the manifest's ``datasets:`` list.

    Refuses a path the manifest already lists. The edited text is validated
    with :func:`load_manifest` before it replaces the file.
    """
    import yaml

    from agentgov.registry.manifest import load_manifest

    manifest = load_manifest(manifest_path)
    if any(d.path == path for d in manifest.datasets):
        raise DataError(f"{manifest_path} already lists the dataset {path}")
    text = manifest_path.read_text(encoding="utf-8-sig")
    entry = {"path": path, "role": role, **({"suite": suite} if suite else {})}
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    node = next((v for k, v in root.value if k.value == "datasets"), None)
    if node is None:
        edited = _with_newline(text) + "datasets:\n" + _block_item(entry, "  ")
    elif isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
        newline = text.find("\n", _last_index(node.value[-1]))
        cut = len(text) if newline < 0 else newline + 1
        edited = _with_newline(text[:cut]) + _block_item(entry, " " * node.start_mark.column) + text[cut:]
    elif isinstance(node, yaml.SequenceNode) or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")):
        # `datasets: []`, `datasets: [{...}]` or `datasets:` with nothing: a flow list keeps it on one line.
        items = [*(yaml.safe_load(text).get("datasets") or []), entry]
        flow = "[" + ", ".join("{" + ", ".join(f"{k}: {_scalar(v)}" for k, v in i.items()) + "}" for i in items) + "]"
        start, end = node.start_mark.index, node.end_mark.index
        edited = text[:start] + (" " if start and text[start - 1] == ":" else "") + flow + text[end:]
    else:
        raise DataError(f"{manifest_path}: 'datasets' is not a list; fix it, then run `agentgov data add` again")
    _check_and_write(manifest_path, edited, path)


def set_dataset_suite(manifest_path: Path, path: str, suite: str) -> None:
    """Name ``suite`` as the contract of the listed dataset ``path`` (added to its entry, or replacing the one there).

    Edits only that entry's text; the result is validated like :func:`append_dataset`'s.
    """
    import yaml

    text = manifest_path.read_text(encoding="utf-8-sig")
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    node = next((v for k, v in root.value if k.value == "datasets"), None) if isinstance(root, yaml.MappingNode) else None
    entries = node.value if isinstance(node, yaml.SequenceNode) else []
    entry = next(
        (e for e in entries if isinstance(e, yaml.MappingNode) and any(k.value == "path" and v.value == path for k, v in e.value)),
        None,
    )
    if entry is None:
        raise DataError(f"{manifest_path} does not list the dataset {path}")
    current = next((v for k, v in entry.value if k.value == "suite"), None)
    if current is not None:
        edited = text[: current.start_mark.index] + _scalar(suite) + text[current.end_mark.index :]
    elif entry.flow_style:  # {path: a, role: eval}: before the closing brace
        close = text.rindex("}", 0, entry.end_mark.index)
        edited = text[:close].rstrip() + f", suite: {_scalar(suite)}" + text[close:]
    else:
        indent = " " * entry.value[0][0].start_mark.column
        newline = text.find("\n", _last_index(entry))
        cut = len(text) if newline < 0 else newline + 1
        edited = _with_newline(text[:cut]) + f"{indent}suite: {_scalar(suite)}\n" + text[cut:]
    _check_and_write(manifest_path, edited, path, suite)


def _block_item(entry: dict[str, Any], indent: str) -> str:
    lines = [f"{indent}- {k}: {_scalar(v)}" if i == 0 else f"{indent}  {k}: {_scalar(v)}" for i, (k, v) in enumerate(entry.items())]
    return "\n".join(lines) + "\n"


def _scalar(value: Any) -> str:
    import yaml

    text = str(value)
    # Plain when YAML reads it back as the same string, else a JSON string (which is valid YAML).
    try:
        if yaml.safe_load(text) == text and ":" not in text and "#" not in text and not text.startswith(("{", "[")):
            return text
    except yaml.YAMLError:
        pass
    return json.dumps(text)


def _last_index(node: Any) -> int:
    """Where the last scalar of ``node`` ends (a block mapping's own end mark can lie lines later)."""
    while getattr(node, "value", None) and isinstance(node.value, list):
        last = node.value[-1]
        node = last[1] if isinstance(last, tuple) else last
    return node.end_mark.index


def _with_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def _check_and_write(manifest_path: Path, edited: str, path: str, suite: str | None = None) -> None:
    from agentgov.registry.manifest import ManifestError, load_manifest

    scratch = manifest_path.with_name(f".{manifest_path.name}.agentgov-edit")
    scratch.write_text(edited, encoding="utf-8")
    try:
        manifest = load_manifest(scratch)
    except ManifestError as exc:
        scratch.unlink()
        raise DataError(f"adding {path} to {manifest_path} would make it invalid: {exc}") from None
    if not any(d.path == path and (suite is None or d.suite == suite) for d in manifest.datasets):
        scratch.unlink()
        where = f"its 'suite: {suite}'" if suite is not None else "it to 'datasets:'"
        raise DataError(f"could not add {path} to {manifest_path}; add {where} by hand")
    os.replace(scratch, manifest_path)
