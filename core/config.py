"""Configuration: ``agentgov.toml``, overridden by environment variables.

With no file and no variables everything lives in the home folder
(``.agentgov/`` in the working directory): an sqlite MLflow store, local
artifacts and the audit log. Each effective value remembers where it came
from, so ``agentgov config show`` can say why a value is what it is.
"""

from __future__ import annotations

import getpass
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from agentgov.core.errors import ConfigError, InvalidValue
from agentgov.core.types import Stage

CONFIG_FILENAME = "agentgov.toml"
DEFAULT_HOME = ".agentgov"
DEFAULT_DRIFT_EVALUATOR = "evidently-drift"

DEFAULT_CONFIG_TEXT = """\
# agentgov configuration. Environment variables override every value here;
# `agentgov config show` prints the effective configuration and its sources.

[home]
# Where agentgov keeps its state: the sqlite MLflow store, artifacts, reports,
# the DVC cache and the audit log. Relative to this file. ($AGENTGOV_HOME)
path = ".agentgov"

[mlflow]
# Empty: an sqlite store in the home. For a shared server, for example
# "http://mlflow.internal:5000". ($AGENTGOV_TRACKING_URI, $MLFLOW_TRACKING_URI)
tracking_uri = ""
# Empty: the same as tracking_uri. ($AGENTGOV_REGISTRY_URI, $MLFLOW_REGISTRY_URI)
registry_uri = ""

[prefect]
# Empty: flows run on an embedded Prefect. ($PREFECT_API_URL)
api_url = ""

[plugins]
# Installed plugins (entry-point names or distributions) to load; empty loads
# all of them. ($AGENTGOV_PLUGINS_ONLY, comma-separated)
only = []
# Plugins never to load, built-in or installed. ($AGENTGOV_PLUGINS_BLOCK)
block = []
# Log every hook call to the debug log. ($AGENTGOV_TRACE_PLUGINS=1)
trace = false

[drift]
# The evaluator plugin `agentgov drift` and the drift-monitor flow use
# (`agentgov plugins list`). Empty: evidently-drift. ($AGENTGOV_DRIFT_EVALUATOR)
evaluator = ""

[server]
# The control plane (`agentgov server`) stops after this many seconds without
# a command, never while a command or long-lived work runs. ($AGENTGOV_SERVER_IDLE)
idle_timeout = 900

[identity]
# Who you are in the audit log. Empty: $AGENTGOV_USER, else your OS user.
user = ""

[masking]
# Audit records mask values that look like credentials or personal data
# (e-mail, phone, card numbers, bearer tokens, API keys, URI passwords).
# Fields never masked, besides actor, subject, ids, hashes, names and versions:
safe_fields = []
# Extra patterns, name = "regex"; a built-in's name replaces it, "" turns it off:
# patterns = { employee-id = "EMP-[0-9]{6}" }

# Policies guarding each stage (`agentgov policies list` shows them all).
# mode: enforce (default) | warn | dry-run | off; other keys are parameters.
# [stages.production]
# timeout_s = 30
#
# [stages.production.policies.human-approval]
# approvals_by_tier = { low = 1, medium = 1, high = 2 }
#
# [stages.production.policies.connector-least-privilege]
# allowed_scopes = ["tickets:read", "tickets:write"]
#
# [stages.production.policies.eval-thresholds]
# mode = "dry-run"
# min_samples = 200
"""

# (section, key) -> (attribute, expected type)
_FIELDS: dict[tuple[str, str], tuple[str, type | tuple[type, ...]]] = {
    ("home", "path"): ("home", str),
    ("mlflow", "tracking_uri"): ("tracking_uri", str),
    ("mlflow", "registry_uri"): ("registry_uri", str),
    ("prefect", "api_url"): ("prefect_api_url", str),
    ("plugins", "only"): ("plugins_only", list),
    ("plugins", "block"): ("plugins_block", list),
    ("plugins", "trace"): ("trace_plugins", bool),
    ("drift", "evaluator"): ("drift_evaluator", str),
    ("identity", "user"): ("user", str),
    ("server", "idle_timeout"): ("server_idle_timeout", (int, float)),
    ("masking", "safe_fields"): ("mask_safe_fields", list),
    ("masking", "patterns"): ("mask_patterns", dict),
}

# attribute -> environment variables, first set wins
_ENV: dict[str, tuple[str, ...]] = {
    "home": ("AGENTGOV_HOME",),
    "tracking_uri": ("AGENTGOV_TRACKING_URI", "MLFLOW_TRACKING_URI"),
    "registry_uri": ("AGENTGOV_REGISTRY_URI", "MLFLOW_REGISTRY_URI"),
    "prefect_api_url": ("PREFECT_API_URL",),
    "plugins_only": ("AGENTGOV_PLUGINS_ONLY",),
    "plugins_block": ("AGENTGOV_PLUGINS_BLOCK",),
    "trace_plugins": ("AGENTGOV_TRACE_PLUGINS",),
    "drift_evaluator": ("AGENTGOV_DRIFT_EVALUATOR",),
    "user": ("AGENTGOV_USER",),
    "server_idle_timeout": ("AGENTGOV_SERVER_IDLE",),
}
DEFAULT_SERVER_IDLE_TIMEOUT = 900.0

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Config:
    """The effective configuration. ``sources`` maps each attribute to its origin."""

    home: Path
    tracking_uri: str
    registry_uri: str
    prefect_api_url: str | None
    plugins_only: tuple[str, ...]
    plugins_block: tuple[str, ...]
    trace_plugins: bool
    user: str
    stages: Mapping[Stage, Mapping[str, Any]]
    path: Path | None = None
    sources: Mapping[str, str] = field(default_factory=dict)
    mask_safe_fields: tuple[str, ...] = ()
    mask_patterns: Mapping[str, str] = field(default_factory=dict)
    drift_evaluator: str = DEFAULT_DRIFT_EVALUATOR
    server_idle_timeout: float = DEFAULT_SERVER_IDLE_TIMEOUT

    def shown(self) -> list[tuple[str, str, str]]:
        """(setting, value, source) rows for people, with credentials masked."""
        rows = [
            ("config file", str(self.path) if self.path else "(none)", "search from the working directory"),
            ("home", str(self.home), self.sources["home"]),
            ("mlflow.tracking_uri", mask_uri(self.tracking_uri), self.sources["tracking_uri"]),
            ("mlflow.registry_uri", mask_uri(self.registry_uri), self.sources["registry_uri"]),
            ("prefect.api_url", mask_uri(self.prefect_api_url) if self.prefect_api_url else "(embedded)", self.sources["prefect_api_url"]),
            ("plugins.only", ", ".join(self.plugins_only) or "(all installed)", self.sources["plugins_only"]),
            ("plugins.block", ", ".join(self.plugins_block) or "(none)", self.sources["plugins_block"]),
            ("plugins.trace", str(self.trace_plugins).lower(), self.sources["trace_plugins"]),
            ("drift.evaluator", self.drift_evaluator, self.sources.get("drift_evaluator", "default")),
            ("identity.user", self.user, self.sources["user"]),
            ("server.idle_timeout", f"{self.server_idle_timeout:g} s", self.sources.get("server_idle_timeout", "default")),
            ("masking.safe_fields", ", ".join(self.mask_safe_fields) or "(defaults)", self.sources.get("mask_safe_fields", "default")),
            ("masking.patterns", ", ".join(self.mask_patterns) or "(built-in)", self.sources.get("mask_patterns", "default")),
        ]
        for stage, settings in self.stages.items():
            rows.append((f"stages.{stage.value}", ", ".join(sorted(settings)) or "(empty)", self.sources.get(f"stages.{stage.value}", "")))
        return rows


def find_config_file(start: Path | None = None) -> Path | None:
    """``$AGENTGOV_CONFIG``, else the nearest ``agentgov.toml`` upwards from ``start``."""
    explicit = os.environ.get("AGENTGOV_CONFIG")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"$AGENTGOV_CONFIG points to {path}, which is not a file")
        return path.resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_FILENAME
        if candidate.is_file():
            return candidate
    return None


def load_config(start: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read the configuration file (if any) and apply environment overrides."""
    env = os.environ if environ is None else environ
    path = find_config_file(start)
    base = path.parent if path else (start or Path.cwd()).resolve()
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    stages: dict[Stage, Mapping[str, Any]] = {}

    if path is not None:
        text = _read_text(path)
        data = _parse_toml(path, text)
        for section, table in data.items():
            if section == "stages":
                stages = _stages(path, text, table)
                sources.update({f"stages.{s.value}": f"{path.name}, line {_table_line(text, f'stages.{s.value}')}" for s in stages})
                continue
            if not isinstance(table, dict):
                raise ConfigError(f"{path}, line {_line_of(text, None, section)}: '{section}' must be a table ([{section}])")
            for key, value in table.items():
                spec = _FIELDS.get((section, key))
                line = _line_of(text, section, key)
                if spec is None:
                    known = ", ".join(f"{s}.{k}" for s, k in _FIELDS)
                    raise ConfigError(f"{path}, line {line}: unknown setting '{section}.{key}' (known: {known}, stages.*)")
                attribute, expected = spec
                if not isinstance(value, expected) or (expected is list and not all(isinstance(v, str) for v in value)) or (
                    expected is dict and not all(isinstance(v, str) for v in value.values())
                ):
                    wanted = {list: "a list of strings", dict: "a table of names to strings"}.get(expected, f"a {expected.__name__}")
                    raise ConfigError(f"{path}, line {line}: '{section}.{key}' must be {wanted}, got {value!r}")
                if expected is dict and attribute == "mask_patterns":
                    _check_patterns(path, line, value)
                if value in ("", []):
                    continue  # empty means "use the default", as the template says
                values[attribute] = value
                sources[attribute] = f"{path.name}, line {line}"

    for attribute, names in _ENV.items():
        for name in names:
            raw = env.get(name)
            if raw is not None and raw != "":
                values[attribute] = _from_env(name, raw, attribute)
                sources[attribute] = f"${name}"
                break

    home = Path(values.get("home", DEFAULT_HOME)).expanduser()
    if not home.is_absolute():
        # A path written in the file is relative to the file; any other to the working directory.
        from_file = "home" in sources and not sources["home"].startswith("$")
        home = (base if from_file else Path.cwd()) / home
    home = home.resolve()
    sources.setdefault("home", "default (./.agentgov)")

    tracking_uri = values.get("tracking_uri") or f"sqlite:///{home / 'mlflow.db'}"
    sources.setdefault("tracking_uri", "default (sqlite in the home)")
    registry_uri = values.get("registry_uri") or tracking_uri
    sources.setdefault("registry_uri", "default (same as tracking_uri)")
    sources.setdefault("prefect_api_url", "default (embedded)")

    user = values.get("user")
    if not user:
        user = _os_user()
        sources["user"] = "OS user"

    for attribute in ("plugins_only", "plugins_block", "trace_plugins"):
        sources.setdefault(attribute, "default")
    sources.setdefault("drift_evaluator", "default")
    sources.setdefault("server_idle_timeout", "default")
    idle = values.get("server_idle_timeout", DEFAULT_SERVER_IDLE_TIMEOUT)
    if isinstance(idle, bool) or idle < 0:
        raise ConfigError(f"server.idle_timeout must be a number of seconds (0 or more), got {idle!r}")

    return Config(
        home=home,
        tracking_uri=tracking_uri,
        registry_uri=registry_uri,
        prefect_api_url=values.get("prefect_api_url"),
        plugins_only=tuple(values.get("plugins_only", ())),
        plugins_block=tuple(values.get("plugins_block", ())),
        trace_plugins=bool(values.get("trace_plugins", False)),
        user=user,
        stages=stages,
        path=path,
        sources=sources,
        mask_safe_fields=tuple(values.get("mask_safe_fields", ())),
        mask_patterns=dict(values.get("mask_patterns", {})),
        drift_evaluator=values.get("drift_evaluator") or DEFAULT_DRIFT_EVALUATOR,
        server_idle_timeout=float(idle),
    )


def locate(config: Config, section: str, key: str | None = None) -> str:
    """``agentgov.toml, line 12``: where ``[section] key`` is, for error messages."""
    if config.path is None:
        return CONFIG_FILENAME
    try:
        text = config.path.read_text(encoding="utf-8")
    except OSError:
        return str(config.path)
    line = _line_of(text, section, key)
    if line == 1 and "." in section:  # written as an inline table of its parent: `name = {...}`
        parent, _, last = section.rpartition(".")
        line = _line_of(text, parent, last)
    return f"{config.path}, line {line}"


def mask_uri(uri: str) -> str:
    """Hide the password in ``scheme://user:password@host`` URIs."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return uri
    if parts.password is None:
        return uri
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _check_patterns(path: Path, line: int, patterns: Mapping[str, str]) -> None:
    from agentgov.core.masking import compile_pattern

    for name, regex in patterns.items():
        if regex:  # empty turns a built-in pattern off
            try:
                compile_pattern(name, regex)
            except InvalidValue as exc:
                raise ConfigError(f"{path}, line {line}: masking.patterns: {exc.message}") from None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def _parse_toml(path: Path, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def _stages(path: Path, text: str, table: Any) -> dict[Stage, Mapping[str, Any]]:
    if not isinstance(table, dict):
        raise ConfigError(f"{path}, line {_line_of(text, None, 'stages')}: 'stages' must be a table of stages")
    result: dict[Stage, Mapping[str, Any]] = {}
    for name, settings in table.items():
        line = _table_line(text, f"stages.{name}")
        try:
            stage = Stage.parse(name)
        except InvalidValue as exc:
            raise ConfigError(f"{path}, line {line}: [stages.{name}]: {exc}") from None
        if not isinstance(settings, dict):
            raise ConfigError(f"{path}, line {line}: 'stages.{name}' must be a table")
        result[stage] = settings
    return result


def _from_env(name: str, raw: str, attribute: str) -> Any:
    if attribute in ("plugins_only", "plugins_block"):
        return [item.strip() for item in raw.split(",") if item.strip()]
    if attribute == "server_idle_timeout":
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"${name}={raw!r}: expected a number of seconds") from None
    if attribute == "trace_plugins":
        lowered = raw.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ConfigError(f"${name}={raw!r}: expected 1/0, true/false, yes/no or on/off")
    return raw


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid-{os.getuid()}"


def _table_line(text: str, table: str) -> int:
    """The line that opens ``table``: its ``[table]`` header, else its first sub-table's
    (``[stages.production.policies.x]`` with no ``[stages.production]``), else its key in the parent table."""
    header = re.compile(r"^\s*\[+\s*([^\]]+?)\s*\]+")
    headers = [(n, m.group(1).replace('"', "")) for n, line in enumerate(text.splitlines(), start=1) if (m := header.match(line))]
    for wanted in (lambda name: name == table, lambda name: name.startswith(table + ".")):
        found = next((number for number, name in headers if wanted(name)), None)
        if found is not None:
            return found
    parent, _, last = table.rpartition(".")
    return _line_of(text, parent or None, last)


def _line_of(text: str, section: str | None, key: str | None) -> int:
    """Best-effort line number of ``key`` in ``[section]`` (or of the header itself)."""
    current: str | None = None
    header = re.compile(r"^\s*\[+\s*([^\]]+?)\s*\]+")
    for number, line in enumerate(text.splitlines(), start=1):
        match = header.match(line)
        if match:
            current = match.group(1).replace('"', "")
            if key is None and current == section:
                return number
            continue
        if key is not None and current == section and re.match(rf"^\s*\"?{re.escape(key)}\"?\s*=", line):
            return number
        if key is not None and section is None and current is None and re.match(rf"^\s*{re.escape(key)}\s*=", line):
            return number
    if section is None and key is not None:
        return _line_of(text, key, None)
    return 1
