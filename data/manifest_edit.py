"""Adding a dataset to ``agent.yaml`` by editing its text, so comments and key order survive."""

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


def _check_and_write(manifest_path: Path, edited: str, path: str) -> None:
    from agentgov.registry.manifest import ManifestError, load_manifest

    scratch = manifest_path.with_name(f".{manifest_path.name}.agentgov-edit")
    scratch.write_text(edited, encoding="utf-8")
    try:
        manifest = load_manifest(scratch)
    except ManifestError as exc:
        scratch.unlink()
        raise DataError(f"adding {path} to {manifest_path} would make it invalid: {exc}") from None
    if not any(d.path == path for d in manifest.datasets):
        scratch.unlink()
        raise DataError(f"could not add {path} to {manifest_path}; add it to 'datasets:' by hand")
    os.replace(scratch, manifest_path)
