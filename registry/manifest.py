"""The agent manifest: ``agent.yaml`` beside an agent's code.

:func:`load_manifest` validates it with the pydantic models below and reports
every problem at once, each with its line in the file::

    agent.yaml, line 9: connectors[1].scopes[0]: expected RESOURCE:ACTION like 'tickets:read' or '*', got 'read'

Unknown keys are errors, so a misspelt key never silently means "the default".

A manifest is bounded before it is parsed in full, so a hostile one costs
little to refuse: the file is at most :data:`MAX_BYTES` (1 MiB), a regular
file; it holds at most :data:`MAX_VALUES` values (keys, items and scalars)
once YAML aliases are expanded, counted on the parser's events before any
node is built. Anchors (``&name``) and aliases (``*name``) are allowed within
that budget, so an "alias bomb" is refused at once, and a recursive alias is
refused outright. Text fields have lengths of their own (the description
:data:`MAX_DESCRIPTION`, names and other strings :data:`MAX_TEXT`, paths
:data:`MAX_PATH`, the example request :data:`MAX_EXAMPLE` as JSON), and the
whole manifest as JSON fits the MLflow tag it is recorded in (:data:`MAX_JSON`).

Files the manifest names (the entrypoint, prompts, tool schemas) must lie in
the agent's folder: ``..`` is refused, and so is a symbolic link that leads out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from types import UnionType
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError, to_json

from agentgov.core.errors import AgentgovError
from agentgov.core.text import short_repr as _short
from agentgov.core.types import SLUG_PATTERN, is_slug

if TYPE_CHECKING:
    import yaml

MANIFEST_FILENAME = "agent.yaml"
SCHEMA_ID = "urn:agentgov:schema:agent-manifest:1"

MAX_BYTES = 1 << 20  # the file
MAX_VALUES = 10_000  # keys, items and scalars, aliases expanded
MAX_DESCRIPTION = 5_000  # characters
MAX_TEXT = 256  # names, kinds, owners, scopes, pins, tags...
MAX_PATH = 200  # relative paths; they also become parts of MLflow tag keys (at most 250 characters)
MAX_EXAMPLE = 64 << 10  # example_request, as JSON
MAX_TIMEOUT_S = 300  # a tool call's own time limit, at most
MAX_JSON = 100_000  # the whole manifest as JSON: the `agentgov.manifest` tag (MLflow's limit on a version tag value)

ENTRYPOINT_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*\.py(:[A-Za-z_][A-Za-z0-9_]*)?$"
CONFIG_KEY_PATTERN = r"^[a-z][a-z0-9_]*$"
SCOPE_PATTERN = r"^([a-z0-9_.-]+:[a-z0-9_.*-]+|\*)$"
RATE_LIMIT_PATTERN = r"^[1-9][0-9]*/(s|min|h|d)$"
MEMORY_PATTERN = r"^[1-9][0-9]*(Ki|Mi|Gi|Ti)$"
PROMPT_REF_PATTERN = r"^prompts:/[A-Za-z0-9_.-]+(/[1-9][0-9]*|@[A-Za-z0-9_-]+)$"
PIN_PATTERN = (
    r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?"  # the distribution name (PEP 508)
    r"(\[[A-Za-z0-9._-]+(,[A-Za-z0-9._-]+)*\])?"  # extras
    r"==[A-Za-z0-9][A-Za-z0-9.+!_-]*$"  # one exact version, no wildcard
)


def _checked(pattern: str, kind: str, expected: str, max_length: int = MAX_TEXT) -> Any:
    """A string type that must match ``pattern``, with a message people can act on."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if len(value) > max_length:
            raise PydanticCustomError(
                "string_too_long", "expected at most {max} characters, got {length}", {"max": max_length, "length": len(value)}
            )
        if not compiled.match(value):
            raise PydanticCustomError(kind, f"expected {expected}, got {{value}}", {"value": _short(value)})
        return value

    schema = {"type": "string", "pattern": pattern, "maxLength": max_length}
    return Annotated[str, AfterValidator(check), WithJsonSchema(schema)]


def _slug(value: str) -> str:
    if not is_slug(value):
        raise PydanticCustomError(
            "slug",
            "expected a DNS-safe name: lowercase letters, digits and inner '-', at most 63 characters, got {value}",
            {"value": _short(value)},
        )
    return value


def _relative_path(value: str) -> str:
    windows = PureWindowsPath(value)  # splits on both '/' and '\'
    if not value.strip():
        raise PydanticCustomError("relative_path", "expected a path, got an empty string")
    if windows.drive or windows.root or value.startswith("~"):
        raise PydanticCustomError(
            "relative_path", "expected a path relative to the agent's folder, got {value}", {"value": _short(value)}
        )
    if ".." in windows.parts:
        raise PydanticCustomError("relative_path", "'..' is not allowed in {value}", {"value": _short(value)})
    return value


def _suite_path(value: str) -> str:
    _relative_path(value)
    if not value.endswith(".json"):
        raise PydanticCustomError(
            "suite_path", "expected a Great Expectations suite .json file, got {value}", {"value": _short(value)}
        )
    return value


Slug = Annotated[str, AfterValidator(_slug), WithJsonSchema({"type": "string", "pattern": SLUG_PATTERN})]
Entrypoint = _checked(ENTRYPOINT_PATTERN, "entrypoint", "FILE.py:ClassName or FILE.py, a Python file beside agent.yaml")
Scope = _checked(SCOPE_PATTERN, "scope", "RESOURCE:ACTION like 'tickets:read' or '*'")
RateLimit = _checked(RATE_LIMIT_PATTERN, "rate_limit", "COUNT/UNIT with UNIT s, min, h or d, like '10/s'")
Memory = _checked(MEMORY_PATTERN, "memory", "a size in Ki, Mi, Gi or Ti, like '512Mi'")
Pin = _checked(PIN_PATTERN, "pin", "an exact pin NAME==VERSION, like 'requests==2.32.3'")
RelativePath = Annotated[str, Field(max_length=MAX_PATH), AfterValidator(_relative_path)]
PromptRef = _checked(PROMPT_REF_PATTERN, "prompt_ref", "an MLflow prompt registry reference like 'prompts:/support-triage/3'")
SuitePath = Annotated[str, Field(max_length=MAX_PATH), AfterValidator(_suite_path)]
Text = Annotated[str, Field(max_length=MAX_TEXT)]
ConfigKey = _checked(CONFIG_KEY_PATTERN, "config_key", "a lowercase key like 'url' or 'token_env'", 64)
ConfigValue = Annotated[str, Field(max_length=MAX_PATH * 5)] | int | float | bool
NonEmpty = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
Ratio = Annotated[float, Field(ge=0, le=1)]


def _unique(items: Sequence[Any], what: str, field: str | None, key: Any) -> None:
    """Refuse a repeated ``key(item)``, pointing at the repeat (see ``_problem``)."""
    seen: dict[Any, int] = {}
    for index, item in enumerate(items):
        value = key(item)
        if value in seen:
            raise PydanticCustomError(
                "duplicate",
                f"duplicate {what} {{value}} (first at index {{first}})",
                {"value": _short(value), "first": seen[value], "index": index, "field": field},
            )
        seen[value] = index


class _Model(BaseModel):
    # Strict: YAML already gives typed values, so "1" is not silently a number.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ModelSpec(_Model):
    """A model the agent calls."""

    name: Text = Field(description="The model's name, like 'gpt-4o-mini' or 'all-MiniLM-L6-v2'.")
    kind: Text = Field(description="What it is, like 'llm', 'embedding' or 'classifier'.")
    provider: Text = Field(description="Who serves it, like 'openai' or 'local'.")
    size: Text | None = Field(default=None, description="Its size, like '7B'.")


class Connector(_Model):
    """A system the agent may touch, with the least scopes it needs."""

    name: Text = Field(description="Unique within the manifest.")
    kind: Text = Field(description="The system, like 'zendesk' or 'postgres'.")
    scopes: list[Scope] = Field(description="What it may do, like 'tickets:read'; '*' for everything.")
    rate_limit: RateLimit | None = Field(default=None, description="At most this many calls, like '10/s' or '600/min'.")
    config: dict[ConfigKey, ConfigValue] = Field(
        default_factory=dict,
        description=(
            "Settings for the connector's kind (see agentgov plugins list), like 'url' or 'path'. No secrets: a key "
            "ending in '_env' names an environment variable read when the agent runs ('token_env: HELPDESK_TOKEN')."
        ),
    )


class Dataset(_Model):
    """A data file the agent was built or is judged with."""

    path: RelativePath = Field(description="Relative to the agent's folder; unique within the manifest.")
    role: Literal["train", "eval", "reference"]
    suite: SuitePath | None = Field(default=None, description="Great Expectations suite JSON file it must satisfy, relative.")


class Prompt(_Model):
    """A prompt file the agent uses, versioned with it (and in MLflow's prompt registry, if named)."""

    name: Slug = Field(description="Unique within the manifest.")
    path: RelativePath = Field(description="The prompt file, relative to the agent's folder.")
    registry: PromptRef | None = Field(default=None, description="Its MLflow prompt registry version: prompts:/NAME/VERSION.")


class Tool(_Model):
    """One action of a connector the agent calls as a tool, with the JSON Schema of its arguments."""

    model_config = ConfigDict(serialize_by_alias=True)  # `schema` would shadow BaseModel.schema

    connector: Text = Field(description="A connector named in connectors.")
    action: NonEmpty = Field(description="The action, like 'create_ticket'; unique per connector.")
    schema_: RelativePath = Field(alias="schema", description="JSON Schema file of the tool's arguments, relative.")
    scope: Scope | None = Field(
        default=None, description="The scope a call needs, like 'tickets:write'; the connector must grant it. A tool without one is refused when called."
    )
    side_effects: bool = Field(
        default=True, description="Whether a call changes the world; true unless declared false. Shadow mode never executes such a tool."
    )
    stub: dict[str, Any] | None = Field(
        default=None, description="The answer in shadow mode when no paired production call was recorded for the same arguments."
    )
    timeout_s: Annotated[float, Field(gt=0, le=MAX_TIMEOUT_S)] | None = Field(
        default=None, description="A call is abandoned after this many seconds (default 10)."
    )


class Contracts(_Model):
    """Great Expectations suites for the agent's requests and responses."""

    inputs: SuitePath | None = Field(default=None, description="Suite JSON file for requests, relative.")
    outputs: SuitePath | None = Field(default=None, description="Suite JSON file for responses, relative.")


class SuccessCriteria(_Model):
    """What "works" means for this agent; unset criteria are not checked."""

    task_success_min: Ratio | None = None
    latency_p95_ms_max: Annotated[float, Field(gt=0)] | None = None
    error_rate_max: Ratio | None = None
    cost_per_task_max: Annotated[float, Field(ge=0)] | None = None


class Resources(_Model):
    """What one replica of the agent needs to run."""

    cpu: Annotated[float, Field(gt=0)] = 1.0
    memory: Memory = "1Gi"
    gpu: Annotated[int, Field(ge=0)] = 0


class Manifest(_Model):
    """An agent's manifest, ``agent.yaml``."""

    name: Slug = Field(description="The agent's registry name: DNS-safe, at most 63 characters.")
    description: str = Field(max_length=MAX_DESCRIPTION, description="What the agent does, for people.")
    owners: list[NonEmpty] = Field(min_length=1, description="Who answers for the agent, at least one.")
    risk_tier: Literal["low", "medium", "high"]
    entrypoint: Entrypoint = Field(
        description="FILE.py:ClassName (a class with act(request) -> response) or FILE.py (an MLflow models-from-code file)."
    )
    example_request: dict[str, Any] = Field(description="A request the agent answers; MLflow's input example.")
    models: list[ModelSpec] = Field(default_factory=list)
    connectors: list[Connector] = Field(default_factory=list)
    datasets: list[Dataset] = Field(default_factory=list)
    prompts: list[Prompt] = Field(default_factory=list)
    tools: list[Tool] = Field(default_factory=list)
    contracts: Contracts = Field(default_factory=Contracts)
    success_criteria: SuccessCriteria = Field(default_factory=SuccessCriteria)
    resources: Resources = Field(default_factory=Resources)
    requirements: list[Pin] = Field(default_factory=list, description="Exact pins NAME==VERSION, installed with the agent.")
    tags: dict[Text, Text] = Field(default_factory=dict)

    @field_validator("example_request")
    @classmethod
    def _bounded_example(cls, example: dict[str, Any]) -> dict[str, Any]:
        size = len(to_json(example))
        if size > MAX_EXAMPLE:
            raise PydanticCustomError(
                "example_too_long", "expected at most {max} bytes as JSON, got {size}", {"max": MAX_EXAMPLE, "size": size}
            )
        return example

    @model_validator(mode="after")
    def _fits_its_tag(self) -> Manifest:
        size = len(json.dumps(self.model_dump(mode="json"), sort_keys=True))
        if size > MAX_JSON:
            raise PydanticCustomError(
                "manifest_too_long",
                "the manifest is {size} characters as JSON, at most {max} (it is recorded in an MLflow tag of that size)",
                {"max": MAX_JSON, "size": size},
            )
        return self

    @field_validator("connectors")
    @classmethod
    def _unique_connectors(cls, connectors: list[Connector]) -> list[Connector]:
        _unique(connectors, "connector name", "name", lambda c: c.name)
        return connectors

    @field_validator("datasets")
    @classmethod
    def _unique_datasets(cls, datasets: list[Dataset]) -> list[Dataset]:
        _unique(datasets, "dataset path", "path", lambda d: PurePosixPath(d.path.replace("\\", "/")).as_posix())
        return datasets

    @field_validator("prompts")
    @classmethod
    def _unique_prompts(cls, prompts: list[Prompt]) -> list[Prompt]:
        _unique(prompts, "prompt name", "name", lambda p: p.name)
        return prompts

    @field_validator("tools")
    @classmethod
    def _unique_tools(cls, tools: list[Tool]) -> list[Tool]:
        _unique(tools, "tool", "action", lambda t: f"{t.connector}.{t.action}")
        return tools

    @field_validator("requirements")
    @classmethod
    def _unique_requirements(cls, requirements: list[str]) -> list[str]:
        # Normalised as pip does (PEP 503): pip refuses two pins of one distribution.
        _unique(requirements, "requirement", None, lambda r: re.sub(r"[-_.]+", "-", re.split(r"[\[=]", r)[0]).lower())
        return requirements

    def entrypoint_parts(self) -> tuple[str, str | None]:
        """``("router.py", "SupportRouter")``, or ``("model.py", None)`` for a models-from-code file."""
        file, _, class_name = self.entrypoint.partition(":")
        return file, class_name or None


def manifest_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``agent.yaml``, for editors and other tools."""
    schema = Manifest.model_json_schema()
    schema.pop("title", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "agentgov agent manifest (agent.yaml)",
        **schema,
    }


@dataclass(frozen=True)
class ManifestProblem:
    """One thing wrong with a manifest, and where."""

    file: Path
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}, line {self.line}: {self.field}: {self.message}"


class ManifestError(AgentgovError):
    """``agent.yaml`` is missing or invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: Iterable[ManifestProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


# ``field`` of the problems that concern the file as a whole.
FILE = "(file)"
YAML = "(yaml)"
TOP = "(top level)"


def load_manifest(path: Path) -> Manifest:
    """Read and validate ``agent.yaml`` (or the one in the folder ``path``).

    Raises :class:`ManifestError` listing every problem, each with its line.
    """
    path, root, data = _parse(path)
    problems = list(_repeated_keys(path, root, ()))
    manifest: Manifest | None = None
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        problems.extend(_problem(path, root, error) for error in exc.errors(include_url=False))
    entrypoint = data.get("entrypoint")
    if isinstance(entrypoint, str) and not any(p.field == "entrypoint" for p in problems):
        file = entrypoint.partition(":")[0]
        if re.match(ENTRYPOINT_PATTERN, entrypoint):
            line = _line(root, ("entrypoint",), missing=False)
            if not (path.parent / file).is_file():
                problems.append(ManifestProblem(path, line, "entrypoint", f"{file} does not exist in {path.parent}"))
            elif (target := outside(path.parent, file)) is not None:
                problems.append(ManifestProblem(path, line, "entrypoint", _leads_out(file, target, path.parent)))
    problems.extend(_missing_files(path, root, data, problems))
    problems.extend(_credentials(path, root, data))
    if problems:
        raise ManifestError(sorted(problems, key=lambda p: p.line))
    assert manifest is not None
    return manifest


def read_name(path: Path) -> str | None:
    """The manifest's ``name`` when it is a valid slug, read without validating the rest (for run names).

    Bounded like :func:`load_manifest`: a file it would refuse as a whole gives None.
    """
    try:
        _, _, data = _parse(path)
    except ManifestError:
        return None
    name = data.get("name")
    return name if isinstance(name, str) and is_slug(name) else None


def outside(folder: Path, file: str) -> Path | None:
    """Where ``folder/file`` really is, when a symbolic link leads it out of ``folder``; else None."""
    target = (Path(folder) / file).resolve()
    return None if target.is_relative_to(Path(folder).resolve()) else target


def _leads_out(file: str, target: Path, folder: Path) -> str:
    return f"{file} leads out of the agent folder through a symbolic link (to {target}); copy the file into {folder}"


def _parse(path: Path) -> tuple[Path, yaml.MappingNode, dict[str, Any]]:
    """The manifest file of ``path``, its YAML nodes and its data; refuses what cannot be a manifest, cheaply."""
    import yaml

    path = Path(path).absolute()
    if path.is_dir() or (not path.exists() and path.suffix not in (".yaml", ".yml")):
        path = path / MANIFEST_FILENAME

    def fail(line: int, field: str, message: str) -> ManifestError:
        return ManifestError([ManifestProblem(path, line, field, message)])

    raw = _read_bounded(path, fail)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise fail(raw[: exc.start].count(b"\n") + 1, FILE, f"not UTF-8 text (byte {exc.start})") from None
    _count_values(text, fail)
    try:
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or str(exc)
        if exc.context and not exc.context.startswith("while"):  # "expected a single document ..."
            what = f"{exc.context}, {what}"
        elif exc.context and exc.context_mark and mark and exc.context_mark.line != mark.line:
            # An unclosed quote or bracket is found lines later; say where it opened.
            what = f"{what} ({exc.context} from line {exc.context_mark.line + 1})"
        raise fail(mark.line + 1 if mark else 1, YAML, f"invalid YAML: {what}") from None
    except yaml.YAMLError as exc:
        raise fail(1, YAML, f"invalid YAML: {exc}") from None
    if root is None:
        raise fail(1, TOP, "the file is empty; expected a mapping with name, description, owners, risk_tier, entrypoint and example_request")
    if not isinstance(root, yaml.MappingNode) or not isinstance(data, dict):
        got = "a list" if isinstance(root, yaml.SequenceNode) else _short(data)
        raise fail(root.start_mark.line + 1, TOP, f"expected a mapping of keys to values, got {got}")
    return path, root, data


def _read_bounded(path: Path, fail: Callable[[int, str, str], ManifestError]) -> bytes:
    """The file's bytes, refusing what is not a regular file or is over :data:`MAX_BYTES`, without reading more."""
    import stat

    limit = f"a manifest may be at most 1 MiB ({MAX_BYTES:,} bytes)"
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise fail(1, FILE, "not a regular file")
        if info.st_size > MAX_BYTES:
            raise fail(1, FILE, f"the file is {info.st_size:,} bytes; {limit}")
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)  # it may have grown since
    except FileNotFoundError:
        where = f"in {path.parent}" if path.parent.is_dir() else f"and no folder {path.parent}"
        raise fail(1, FILE, f"no {path.name} {where}") from None
    except OSError as exc:
        raise fail(1, FILE, f"cannot read: {exc.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise fail(1, FILE, f"the file is over {MAX_BYTES:,} bytes; {limit}")
    return raw


def _count_values(text: str, fail: Callable[[int, str, str], ManifestError]) -> None:
    """Refuse a document of over :data:`MAX_VALUES` values, aliases expanded, or with a recursive alias.

    Counted on the parser's events (libyaml's when installed), in one pass that
    never expands an alias: each anchor's size is remembered and an alias adds
    it. Syntax errors are left to the composer, which says where they are.
    """
    import yaml

    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    sizes: dict[str, int] = {}  # anchor -> values in its node
    opened: list[tuple[str | None, int]] = []  # collections being read: (anchor, count before it)
    count = 0
    aliased = False
    try:
        for event in yaml.parse(text, Loader=loader_class):
            if isinstance(event, yaml.AliasEvent):
                aliased = True
                if any(anchor == event.anchor for anchor, _ in opened):
                    line = event.start_mark.line + 1
                    raise fail(line, YAML, f"recursive alias *{event.anchor}: a value may not contain itself")
                count += sizes.get(event.anchor, 0)  # an undefined one is the composer's to report
            elif isinstance(event, yaml.ScalarEvent):
                count += 1
                if event.anchor:
                    sizes[event.anchor] = 1
            elif isinstance(event, yaml.CollectionStartEvent):
                count += 1
                opened.append((event.anchor, count - 1))
            elif isinstance(event, yaml.CollectionEndEvent) and opened:
                anchor, before = opened.pop()
                if anchor:
                    sizes[anchor] = count - before
            if count > MAX_VALUES:
                line = event.start_mark.line + 1
                what = " once its aliases are expanded" if aliased else ""
                raise fail(line, YAML, f"over {MAX_VALUES:,} values{what}; a manifest may hold at most {MAX_VALUES:,} (keys, items and scalars)")
    except yaml.YAMLError:
        return


def _missing_files(path: Path, root: yaml.Node, data: dict[str, Any], found: list[ManifestProblem]) -> Iterable[ManifestProblem]:
    """Prompt and tool-schema files that do not exist, and tools of undeclared connectors."""
    connectors = {c.get("name") for c in data.get("connectors") or () if isinstance(c, dict)}
    flagged = {p.field for p in found}
    for key, file_key in (("prompts", "path"), ("tools", "schema")):
        items = data.get(key)
        for index, item in enumerate(items if isinstance(items, list) else ()):
            if not isinstance(item, dict):
                continue
            field = f"{key}[{index}].{file_key}"
            file = item.get(file_key)
            if isinstance(file, str) and field not in flagged and file.strip():
                target = path.parent / file
                line = _line(root, (key, index, file_key), missing=False)
                if not target.is_file():
                    yield ManifestProblem(path, line, field, f"{file} does not exist in {path.parent}")
                elif (elsewhere := outside(path.parent, file)) is not None:
                    yield ManifestProblem(path, line, field, _leads_out(file, elsewhere, path.parent))
                elif key == "tools":
                    try:
                        json.loads(target.read_text(encoding="utf-8"))
                    except (ValueError, UnicodeDecodeError) as exc:
                        yield ManifestProblem(path, line, field, f"{file} is not JSON: {exc}")
            connector = item.get("connector")
            if key == "tools" and isinstance(connector, str) and connector not in connectors:
                line = _line(root, (key, index, "connector"), missing=False)
                yield ManifestProblem(path, line, f"tools[{index}].connector", f"no connector named {connector!r} in connectors")


def _problem(path: Path, root: yaml.Node, error: Any) -> ManifestProblem:
    """One pydantic error as a problem with a dotted field and a line."""
    loc = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "duplicate":  # point at the repeated item, not at the whole list
        loc = (*loc, ctx["index"], *([ctx["field"]] if ctx["field"] else []))
    if kind == "missing":
        message = "required, but missing"
    elif kind == "extra_forbidden":
        allowed = _keys_at(loc[:-1])
        message = f"unknown key (expected one of: {', '.join(allowed)})" if allowed else "unknown key"
    else:
        message = error["msg"][:1].lower() + error["msg"][1:]
        value = error.get("input")
        if "value" not in ctx and isinstance(value, str | int | float | bool):
            message += f", got {_short(value)}"
    return ManifestProblem(path, _line(root, loc, missing=kind == "missing"), _dotted(loc), message)


CREDENTIAL_PATTERNS = ("uri-password", "bearer", "basic", "api-key")


def _credentials(path: Path, root: yaml.Node, data: Any) -> Iterator[ManifestProblem]:
    """A credential anywhere in the manifest: it would be copied into MLflow (tags, descriptions, artifacts)."""
    from agentgov.core.masking import BUILTIN_PATTERNS

    patterns = [p for p in BUILTIN_PATTERNS if p.name in CREDENTIAL_PATTERNS]

    def walk(value: Any, loc: tuple[Any, ...]) -> Iterator[ManifestProblem]:
        if isinstance(value, dict):
            for key, item in value.items():
                yield from walk(item, (*loc, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                yield from walk(item, (*loc, index))
        elif isinstance(value, str):
            found = next((p.name for p in patterns if p.regex.search(value)), None)
            if found is not None:
                yield ManifestProblem(
                    path, _line(root, loc, missing=False), _dotted(loc),
                    f"looks like a credential ({found}); a manifest is copied into MLflow: read secrets from the environment instead",
                )

    yield from walk(data, ())


def _dotted(loc: Sequence[Any]) -> str:
    text = ""
    for index, part in enumerate(loc):
        if isinstance(part, int) and loc[index + 1 : index + 2] != ("[key]",):  # a dict key is no index
            text += f"[{part}]"
        elif part == "[key]":
            text += " (key)"
        else:
            text += f".{part}" if text else str(part)
    return text or TOP


def _line(root: yaml.Node, loc: Sequence[Any], *, missing: bool) -> int:
    """The line of the node at ``loc``: a key's line for a key, the parent mapping's for a missing one."""
    import yaml

    node: yaml.Node = root
    line = root.start_mark.line + 1
    for part in loc:
        if part == "[key]":
            break  # the line is already the key's
        if isinstance(part, int) and isinstance(node, yaml.SequenceNode) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        elif isinstance(node, yaml.MappingNode):
            # The last of repeated keys wins, as it does when the YAML is loaded.
            found = [(k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(part)]
            if not found:
                return node.start_mark.line + 1 if missing else line
            key, node = found[-1]
            line = key.start_mark.line + 1
        else:
            break
    return line


def _keys_at(loc: Sequence[Any]) -> list[str]:
    """The keys the model at ``loc`` allows, for "unknown key" messages."""
    current: Any = Manifest
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            args = get_args(current)
            current = args[0] if get_origin(current) is list and args else None
        elif isinstance(current, type) and issubclass(current, BaseModel) and part in current.model_fields:
            current = current.model_fields[part].annotation
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return []


def _unwrap(annotation: Any) -> Any:
    """``Annotated[X, ...]`` and ``X | None`` to ``X``."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin is Union or origin is UnionType:
            rest = [a for a in get_args(annotation) if a is not type(None)]
            if len(rest) != 1:
                return annotation
            annotation = rest[0]
        else:
            return annotation


def _repeated_keys(path: Path, node: yaml.Node, loc: tuple[Any, ...]) -> Iterable[ManifestProblem]:
    """Repeated keys, which YAML loaders silently resolve to the last one."""
    import yaml

    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                continue
            line = key.start_mark.line + 1
            if key.value in seen:
                message = f"repeated key (also on line {seen[key.value]}); remove one"
                yield ManifestProblem(path, line, _dotted((*loc, key.value)), message)
            seen.setdefault(key.value, line)
            yield from _repeated_keys(path, value, (*loc, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _repeated_keys(path, item, (*loc, index))
