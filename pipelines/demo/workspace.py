"""The demo's folder: claimed (new, empty, or an earlier demo's, which is reset), then filled.

The folder is a small project of its own: a git repository (``lineage-complete``
wants a clean commit) holding copies of the example agent's versions, the
synthetic data, ``agentgov.toml`` with a governed production stage, the rollout
plan, the helpdesk store and the home ``.agentgov/``. A marker file says the
folder is the demo's, so a second run may start it over; a folder holding
anything else is never touched.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from agentgov.core.errors import AgentgovError
from agentgov.core.types import utcnow

MARKER = ".agentgov-demo"
AGENT = "support-router"
REGISTRANT_FALLBACK = "demo-engineer"
REVIEWER = "demo-reviewer"
ON_CALL = "demo-on-call"

CONFIG = """\
# agentgov.toml written by `agentgov demo`: the production stage is governed.
[home]
path = ".agentgov"

[identity]
user = "{user}"

[stages.production.policies.human-approval]
approvals_by_tier = {{ low = 1, medium = 1, high = 2 }}

[stages.production.policies.eval-thresholds]
min_samples = 200

[stages.production.policies.data-validation-passed]

[stages.production.policies.lineage-complete]

# Shown, never holding a promotion: what the drift check says about going to production.
[stages.production.policies.drift-within-limits]
mode = "warn"
max_drift_share = 0.3
"""

# Sized for a demo: each step ends after a few hundred requests, with the analysis a real rollout runs.
PLAN = """\
name = "demo"

[[steps]]
kind = "shadow"
mirror = 1.0
min_requests = 80
max_minutes = 3

[[steps.analysis.metrics]]
name = "error_rate"
margin = 0.05
mde = 0.3

[[steps]]
kind = "canary"
percent = 50
min_requests = 80
max_minutes = 3

[[steps.analysis.metrics]]
name = "error_rate"
margin = 0.05
mde = 0.3

[[steps]]
kind = "production"
"""

GITIGNORE = ".agentgov/\nhelpdesk.db\ndemo-summary.json\n" + MARKER + "\n"

# v1's classifier, broken on purpose: every ticket goes to the general queue (its success criteria fail).
BROKEN_CLASSIFY = '''

class BrokenRouter(KeywordRouter):
    """A deliberately bad version for the demo: every ticket lands in the general queue."""

    router = "keyword-rules-broken"

    def classify(self, request: dict, tier: str) -> Decision:
        return Decision("general", "low", 0.9)
'''


class DemoError(AgentgovError):
    """The demo cannot run here (a folder in the way, the example agents missing); says how to fix it."""


@dataclass(frozen=True)
class Workspace:
    """Where everything the demo makes lives."""

    root: Path
    examples: Path

    @property
    def config_file(self) -> Path:
        return self.root / "agentgov.toml"

    @property
    def home(self) -> Path:
        return self.root / ".agentgov"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def agents(self) -> Path:
        return self.root / "agents"

    def agent(self, folder: str) -> Path:
        return self.agents / folder

    @property
    def plan(self) -> Path:
        return self.root / "rollout-plan.toml"

    @property
    def helpdesk(self) -> Path:
        return self.root / "helpdesk.db"

    @property
    def summary(self) -> Path:
        return self.root / "demo-summary.json"


def example_agents(given: Path | None = None) -> Path:
    """The example agent's folder: ``given``, else ``examples/support-router`` of the clone agentgov runs from."""
    import agentgov.pipelines

    folder = given or Path(agentgov.pipelines.__file__).resolve().parents[1] / "examples" / "support-router"
    needed = ("v1/agent.yaml", "v2/agent.yaml", "data/generate_tickets.py", "common/helpdesk.sql")
    if not all((folder / part).is_file() for part in needed):
        raise DemoError(
            f"the example agents are not in {folder}",
            hint="run the demo from an editable install of a clone of agentgov, or pass --examples PATH/TO/examples/support-router",
        )
    return folder


@contextmanager
def claimed(root: Path, examples: Path) -> Iterator[Workspace]:
    """``root`` for this run, held for its duration: created, or emptied when an earlier demo made it.

    Refused (one line, exit 2) when it holds anything else, or while another demo runs in it.
    """
    root = root.expanduser().absolute()
    if root.exists() and not root.is_dir():
        raise DemoError(f"{root} is a file", hint="choose a new or empty folder for the demo")
    marker = root / MARKER
    if root.is_dir() and any(root.iterdir()) and not marker.is_file():
        raise DemoError(
            f"{root} is not empty and was not made by `agentgov demo`",
            hint="choose a new or empty folder, for example `agentgov demo agentgov-demo`",
        )
    root.mkdir(parents=True, exist_ok=True)
    with open(marker, "a+", encoding="utf-8") as held:
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DemoError(f"another `agentgov demo` is running in {root}", hint="wait for it, or choose another folder") from None
        for entry in root.iterdir():  # an earlier demo's files: start over
            if entry.name == MARKER:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        held.seek(0)
        held.truncate()
        held.write(json.dumps({"made_by": "agentgov demo", "started": utcnow().isoformat(), "pid": os.getpid()}) + "\n")
        held.flush()
        yield Workspace(root, examples)


def was_reset(root: Path) -> bool:
    """Whether ``root`` holds an earlier demo that :func:`claimed` will start over."""
    root = root.expanduser().absolute()
    return (root / MARKER).is_file() and any(p.name != MARKER for p in root.iterdir())


def lay_out(ws: Workspace, user: str) -> None:
    """The project: git repository, the two versions' folders, the configuration and plan, the helpdesk store."""
    for version in ("v1", "v2"):
        shutil.copytree(ws.examples / version, ws.agent(version), ignore=shutil.ignore_patterns("__pycache__", "data", "*.db"))
    ws.config_file.write_text(CONFIG.format(user=user), encoding="utf-8")
    ws.plan.write_text(PLAN, encoding="utf-8")
    (ws.root / ".gitignore").write_text(GITIGNORE, encoding="utf-8")
    git(ws.root, "init", "-q", "-b", "main")
    commit(ws.root, "the example agent's versions v1 and v2, as copied by agentgov demo")


def generator(ws: Workspace) -> ModuleType:
    """The example's ticket generator, imported from its file (the example is no package)."""
    import importlib.util
    import sys

    path = ws.examples / "data" / "generate_tickets.py"
    spec = importlib.util.spec_from_file_location("agentgov_demo_generate_tickets", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def generate_data(ws: Workspace) -> dict[str, Path]:
    """The synthetic splits (seed 17) and the drifted traffic in ``data/``; each version gets its train and eval copies."""
    tickets = generator(ws)
    ws.data.mkdir()
    files = {p.stem.removeprefix("synthetic_tickets_"): p for p in tickets.write_splits(ws.data)}
    files.update({p.stem.removeprefix("synthetic_tickets_"): p for p in tickets.write_splits(ws.data, drift=True)})
    files["drift_reference"] = _request_fields(files["reference"], ws.data / "synthetic_drift_reference.csv")
    for version in ("v1", "v2"):
        (ws.agent(version) / "data").mkdir()
        for split in ("train", "eval"):
            shutil.copy(files[split], ws.agent(version) / "data" / files[split].name)
    with sqlite3.connect(ws.helpdesk) as store:
        store.executescript((ws.examples / "common" / "helpdesk.sql").read_text(encoding="utf-8"))
        store.executemany("INSERT INTO customers (id, name, tier) VALUES (:id, :name, :tier)", tickets.customers())
    store.close()
    return files


# What the drift check compares: the fields a ticket's writer chooses (ids, labels and the synthetic flag are left out).
DRIFT_FIELDS = ("subject", "body", "customer_tier", "channel")


def _request_fields(split: Path, out: Path) -> Path:
    import csv

    with split.open(newline="", encoding="utf-8") as source, out.open("w", newline="", encoding="utf-8") as target:
        writer = csv.DictWriter(target, fieldnames=DRIFT_FIELDS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(csv.DictReader(source))
    return out


def broken_copy(ws: Workspace) -> Path:
    """A copy of v1 (with its tracked data) whose classifier sends every ticket to the general queue; committed."""
    folder = ws.agent("v1-broken")
    shutil.copytree(ws.agent("v1"), folder, ignore=shutil.ignore_patterns("__pycache__"))
    router = folder / "router.py"
    router.write_text(router.read_text(encoding="utf-8") + BROKEN_CLASSIFY, encoding="utf-8")
    manifest = folder / "agent.yaml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(
        text.replace("entrypoint: router.py:KeywordRouter", "entrypoint: router.py:BrokenRouter").replace(
            "router: keyword-rules", "router: keyword-rules-broken"
        ),
        encoding="utf-8",
    )
    commit(ws.root, "v1-broken: a deliberately bad copy of v1")
    return folder


def git(root: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-c", "user.name=agentgov demo", "-c", "user.email=demo@example.invalid", *args],
            cwd=root, capture_output=True, text=True, timeout=60,
        )
    except FileNotFoundError:
        raise DemoError("the demo needs git (its project is a git repository, as lineage-complete wants)", hint="install git") from None
    if done.returncode != 0:
        raise DemoError(f"git {' '.join(args)} failed in {root}: {(done.stderr or done.stdout).strip()[:300]}")
    return done.stdout


def commit(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-verify", "-m", message)
