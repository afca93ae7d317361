"""The bill of materials of an agent version, and what changed between two.

Registration records, on the version, the hash of everything the version is
made of: its code files, manifest, prompts, tool schemas, datasets (DVC md5),
contract suites, requirement pins, its bento once built, and the agentgov and
MLflow versions. It is a JSON tag, ``agentgov.bom``, when it fits MLflow's
limit on a model version tag value (100,000 characters on sqlite and on a
server alike: the column is ``TEXT`` and MLflow validates the length); a
larger one is an artifact of the registration run, with its SHA-256 in a tag.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentgov.core.errors import AgentgovError
from agentgov.registry import lineage
from agentgov.registry.packaging import code_files

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from agentgov.registry.manifest import Manifest
    from agentgov.registry.model import AgentVersion

TAG_BOM = "agentgov.bom"
TAG_BOM_ARTIFACT = "agentgov.bom.artifact"
TAG_BOM_SHA256 = "agentgov.bom.sha256"
ARTIFACT_PATH = "agentgov/bom.json"
TAG_LIMIT = 100_000  # mlflow.utils.validation.MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH (tests check it on both backends)
SCHEMA = 1
MISSING = "missing"

# Section of each item, in the order they are shown.
SECTIONS = ("code", "manifest", "prompt", "prompt-registry", "tool", "dataset", "contract", "requirement", "bento", "version")


class BomUnavailable(AgentgovError):
    """A version has no readable bill of materials."""


@dataclass(frozen=True)
class Item:
    """One line of a bill of materials: ``("prompt", "system", "<sha256>")``."""

    section: str
    name: str
    value: str | None


@dataclass(frozen=True)
class Change:
    """One difference between two versions: ``added``, ``removed`` or ``changed``."""

    change: str
    section: str
    name: str
    old: str | None
    new: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"change": self.change, "section": self.section, "name": self.name, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class Bom:
    """A version's bill of materials as JSON-ready data (``data``)."""

    data: Mapping[str, Any]

    def to_json(self) -> str:
        return json.dumps(self.data, sort_keys=True, separators=(",", ":"))

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()

    def items(self) -> list[Item]:
        d = self.data
        found = [Item("code", "(all files)", d["code"]["sha256"])]
        found += [Item("code", name, sha) for name, sha in sorted(d["code"]["files"].items())]
        found.append(Item("manifest", d["manifest"]["path"], d["manifest"]["sha256"]))
        for name, prompt in sorted(d["prompts"].items()):
            found.append(Item("prompt", name, prompt["sha256"]))
            if prompt.get("registry"):
                resolved = f" v{prompt['registry_version']} sha256:{prompt['registry_sha256']}" if prompt.get("registry_sha256") else ""
                found.append(Item("prompt-registry", name, prompt["registry"] + resolved))
        found += [Item("tool", name, tool["sha256"]) for name, tool in sorted(d["tools"].items())]
        found += [Item("dataset", path, data["md5"]) for path, data in sorted(d["datasets"].items())]
        found += [Item("contract", name, suite["sha256"]) for name, suite in sorted(d["contracts"].items())]
        found += [Item("requirement", name, pin) for name, pin in sorted(d["requirements"].items())]
        bento = d.get("bento")
        if isinstance(bento, Mapping):  # {"tag", "sha256"} once `agentgov build` made the version's bento
            found += [Item("bento", "tag", bento.get("tag")), Item("bento", "sha256", bento.get("sha256"))]
        else:
            found.append(Item("bento", "tag", bento))
        found += [Item("version", name, installed) for name, installed in sorted(d["versions"].items())]
        return found


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_hash(path: Path) -> str:
    return lineage.sha256_file(path) if path.is_file() else MISSING


def code_hashes(agent_dir: Path) -> dict[str, str]:
    """SHA-256 of every code file packaged with the agent, by path relative to its folder."""
    files: dict[str, str] = {}
    for top in code_files(agent_dir, set()):
        paths = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for path in paths:
            if "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo"):
                continue
            files[path.relative_to(agent_dir).as_posix()] = lineage.sha256_file(path)
    return dict(sorted(files.items()))


def _requirement_name(pin: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[\[=<>!~; ]", pin, maxsplit=1)[0]).lower()


def build(agent_dir: Path, manifest_path: Path, manifest: Manifest, requirements: Iterable[str]) -> Bom:
    """The bill of materials of the agent in ``agent_dir`` as it is on disk now."""
    code = code_hashes(agent_dir)
    aggregate = sha256_bytes("".join(f"{path}\0{sha}\n" for path, sha in code.items()).encode("utf-8"))
    contracts = {
        key: {"path": path, "sha256": _file_hash(agent_dir / path)}
        for key, path in (("inputs", manifest.contracts.inputs), ("outputs", manifest.contracts.outputs))
        if path
    }
    for dataset in manifest.datasets:
        suite = getattr(dataset, "suite", None)  # datasets may name a Great Expectations suite
        if suite:
            contracts[f"dataset:{dataset.path}"] = {"path": suite, "sha256": _file_hash(agent_dir / suite)}
    data = {
        "schema": SCHEMA,
        "code": {"sha256": aggregate, "files": code},
        "manifest": {"path": manifest_path.name, "sha256": lineage.sha256_file(manifest_path)},
        "prompts": {
            p.name: {"path": p.path, "sha256": _file_hash(agent_dir / p.path), "registry": p.registry} for p in manifest.prompts
        },
        "tools": {
            f"{t.connector}.{t.action}": {"schema": t.schema_, "sha256": _file_hash(agent_dir / t.schema_)} for t in manifest.tools
        },
        "datasets": {d.path: {"role": d.role, "md5": lineage.dvc_hash(agent_dir / d.path)} for d in manifest.datasets},
        "contracts": contracts,
        "requirements": {_requirement_name(pin): pin for pin in requirements},
        "bento": None,
        "versions": {k: v for k, v in lineage.library_versions(("agentgov", "mlflow")).items() if k != "python"},
    }
    return Bom(data)


def resolve_prompts(client: MlflowClient, bom: Bom) -> Bom:
    """Check every ``registry:`` prompt reference against MLflow's prompt registry and record its template's hash."""
    from agentgov.registry.store import mlflow_errors

    prompts = {}
    for name, prompt in bom.data["prompts"].items():
        uri = prompt.get("registry")
        if uri:
            with mlflow_errors(f"prompt {name} ({uri})"):
                found = client.load_prompt(uri, allow_missing=True, cache_ttl_seconds=0)
            if found is None:
                raise BomUnavailable(
                    f"prompt {name}: {uri} is not in the MLflow prompt registry",
                    hint="register it (mlflow.genai.register_prompt) or remove `registry:` from the manifest",
                )
            template = found.template if isinstance(found.template, str) else json.dumps(found.template, sort_keys=True)
            prompt = {**prompt, "registry_version": int(found.version), "registry_sha256": sha256_bytes(template.encode("utf-8"))}
        prompts[name] = prompt
    return Bom({**bom.data, "prompts": prompts})


def record(client: MlflowClient, name: str, version: int, bom: Bom, run_id: str, *, limit: int = TAG_LIMIT) -> str:
    """Put ``bom`` on the version: as a tag (returns ``"tag"``), or an artifact if too large (``"artifact"``)."""
    text = bom.to_json()
    if len(text) <= limit:
        client.set_model_version_tag(name, str(version), TAG_BOM, text)
        return "tag"
    client.log_text(run_id, text, ARTIFACT_PATH)
    client.set_model_version_tag(name, str(version), TAG_BOM_ARTIFACT, f"runs:/{run_id}/{ARTIFACT_PATH}")
    client.set_model_version_tag(name, str(version), TAG_BOM_SHA256, bom.sha256)
    return "artifact"


def read(client: MlflowClient, version: AgentVersion) -> Bom:
    """The bill of materials recorded on ``version``, checked against its hash when it is an artifact."""
    from agentgov.registry.store import mlflow_errors

    tags = version.tags
    if TAG_BOM in tags:
        return Bom(json.loads(tags[TAG_BOM]))
    uri = tags.get(TAG_BOM_ARTIFACT)
    if not uri:
        raise BomUnavailable(f"{version.ref} has no bill of materials (registered before agentgov recorded them); register it again")
    import tempfile

    run_id, _, path = uri.removeprefix("runs:/").partition("/")
    with tempfile.TemporaryDirectory() as folder, mlflow_errors(f"the bill of materials of {version.ref}"):
        local = client.download_artifacts(run_id, path, folder)
        text = Path(local).read_text(encoding="utf-8")
    bom = Bom(json.loads(text))
    if bom.sha256 != tags.get(TAG_BOM_SHA256):
        raise BomUnavailable(f"the bill of materials of {version.ref} at {uri} does not match its recorded SHA-256: it was changed")
    return bom


def record_bento(client: MlflowClient, version: AgentVersion, bento: Mapping[str, str]) -> Bom:
    """Put the version's bento (``{"tag", "sha256"}``) in its bill of materials; unchanged when it is there already."""
    current = read(client, version)
    if current.data.get("bento") == dict(bento):
        return current
    updated = Bom({**current.data, "bento": dict(bento)})
    if version.run_id is None:
        raise BomUnavailable(f"{version.ref} has no registration run to keep its bill of materials in")
    if record(client, version.name, version.version, updated, version.run_id) == "artifact" and TAG_BOM in version.tags:
        client.delete_model_version_tag(version.name, str(version.version), TAG_BOM)  # read() would prefer the old tag
    return updated


def diff(old: Bom, new: Bom, old_manifest: Mapping[str, Any] | None = None, new_manifest: Mapping[str, Any] | None = None) -> list[Change]:
    """Item by item: what was added, removed or changed from ``old`` to ``new``, then manifest fields."""
    changes = _compare({(i.section, i.name): i.value for i in old.items()}, {(i.section, i.name): i.value for i in new.items()})
    if old_manifest is not None and new_manifest is not None:
        before = {("manifest-field", k): v for k, v in flatten(old_manifest).items()}
        after = {("manifest-field", k): v for k, v in flatten(new_manifest).items()}
        changes += _compare(before, after)
    order = {s: i for i, s in enumerate((*SECTIONS, "manifest-field"))}
    return sorted(changes, key=lambda c: (order.get(c.section, len(order)), c.name))


def _compare(old: Mapping[tuple[str, str], str | None], new: Mapping[tuple[str, str], str | None]) -> list[Change]:
    changes = []
    for key in old.keys() | new.keys():
        section, name = key
        if key not in old:
            changes.append(Change("added", section, name, None, new[key]))
        elif key not in new:
            changes.append(Change("removed", section, name, old[key], None))
        elif old[key] != new[key]:
            changes.append(Change("changed", section, name, old[key], new[key]))
    return changes


# Lists of these are compared item by item, keyed by the field that names each item.
_LIST_KEYS = {"connectors": ("name",), "models": ("name",), "datasets": ("path",), "prompts": ("name",), "tools": ("connector", "action")}


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """Dotted fields of a manifest, as JSON text: ``connectors[helpdesk].scopes -> '["tickets:read"]'``."""
    if isinstance(value, Mapping):
        flat: dict[str, str] = {}
        for key, item in value.items():
            flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    keys = _LIST_KEYS.get(prefix)
    if isinstance(value, list) and keys and all(isinstance(i, Mapping) for i in value):
        flat = {}
        for item in value:
            label = f"{prefix}[{'.'.join(str(item.get(k)) for k in keys)}]"
            rest = {k: v for k, v in item.items() if k not in keys}
            flat.update(flatten(rest, label) if rest else {label: "present"})
        return flat
    return {prefix: json.dumps(value, sort_keys=True)}
