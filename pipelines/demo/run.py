"""The demo's steps, in order, each through the pipeline a user's command would run (as Prefect flows where
the command runs one), in this process and against one Prefect API.

Every step is timed and narrated through the :class:`~agentgov.pipelines.demo.report.Reporter`;
whatever the run started (the Prefect server, the gateway and its shadow host)
is stopped on the way out, whether it finished, failed or was interrupted.
"""

from __future__ import annotations

import getpass
import math
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentgov.pipelines.demo import workspace as layout
from agentgov.pipelines.demo.report import DemoSummary, Look, Reporter, StepResult
from agentgov.pipelines.demo.services import demo_environment, prefect_for_the_run, stops_on_signals
from agentgov.pipelines.demo.workspace import AGENT, ON_CALL, REVIEWER, DemoError, Workspace

if TYPE_CHECKING:
    from agentgov.core.audit import AuditLog
    from agentgov.core.config import Config
    from agentgov.core.plugins import PluginManager
    from agentgov.pipelines.demo.traffic import GatewayTraffic

SUITE = "suites/synthetic_tickets.json"
# Imported while the Prefect server boots, so no step waits for them.
FLOWS = (
    "agentgov.pipelines.add_data:add_data",
    "agentgov.pipelines.validate_data:validate_data",
    "agentgov.pipelines.register_agent:register_agent",
    "agentgov.pipelines.evaluate:evaluate_agent",
    "agentgov.pipelines.promote:promote_agent",
    "agentgov.pipelines.rollout.flow:rollout",
)
# And what their tasks use: importing these meanwhile saves each step's first flow seconds.
LIBRARIES = ("dvc.repo", "great_expectations", "mlflow.pyfunc", "agentgov.registry.register", "sklearn.linear_model")


def run_demo(directory: Path, reporter: Reporter, *, examples: Path | None = None) -> DemoSummary:
    """Run the whole lifecycle of the example agent in ``directory``; what happened, and where to look."""
    found = layout.example_agents(examples)
    reset = layout.was_reset(directory)
    user = _registrant()
    with stops_on_signals(), layout.claimed(directory, found) as ws, demo_environment(ws.root, ws.helpdesk):
        run = _Run(ws, reporter, user)
        run.steps_in_order()
        return run.summary(reset)


def _registrant() -> str:
    """Who runs the demo registers and promotes; a reviewer and an on-call engineer are named by the demo."""
    try:
        user = os.environ.get("AGENTGOV_USER") or getpass.getuser()
    except (KeyError, OSError):
        user = ""
    return user if user and user not in (REVIEWER, ON_CALL) else layout.REGISTRANT_FALLBACK


@dataclass
class _Run:
    ws: Workspace
    reporter: Reporter
    user: str
    steps: list[StepResult] = field(default_factory=list)
    said: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    config: Config | None = None
    plugins: PluginManager | None = None
    audit: AuditLog | None = None
    services: ExitStack = field(default_factory=ExitStack)
    gateway: GatewayTraffic | None = None

    # -- the steps -------------------------------------------------------------------------------------------

    def steps_in_order(self) -> None:
        from agentgov.core.config import load_config

        with self.services:
            with self.step("init", "Create the project: agentgov.toml, the home, a git repository with v1 and v2"):
                self.init()
            with self.step("data", "Generate synthetic tickets (seed 17) while Prefect starts"):
                self.services.enter_context(prefect_for_the_run(self.config, self.generate))
                self.config = load_config()  # now naming the run's Prefect API: every flow goes there
            with self.step("track", "Version the datasets with DVC (agentgov data add)"):
                self.track()
            with self.step("validate", "Check the data contracts (Great Expectations)"):
                self.validate()
            with self.step("register", "Register v1 (keyword rules) and v2 (TF-IDF + logistic regression)"):
                self.register()
            with self.step("evaluate", "Evaluate both offline on the 400-ticket eval split"):
                self.evaluate()
            with self.step("production", "Promote v1 to production through the gate, approved by a second person"):
                self.promote_v1()
            with self.step("rollout", "Roll v2 out behind the gateway: shadow, canary 50%, production"):
                self.rollout()
            with self.step("drift", "Send drifted traffic (a product launch) and check drift"):
                self.drift()
            with self.step("blocked", "Try to promote a deliberately bad version"):
                self.blocked()
            with self.step("emergency", "Emergency rollback"):
                self.emergency()
            with self.step("verify", "Verify the audit log"):
                self.verify()

    def init(self) -> None:
        from agentgov.core.config import load_config
        from agentgov.core.home import Home
        from agentgov.core.plugins import load_plugins

        layout.lay_out(self.ws, self.user)
        self.config = load_config()
        self.plugins = load_plugins(self.config)
        home = Home.configured(self.config, self.plugins)
        home.create()
        self.audit = home.audit_log
        self.audit.append(
            actor=self.user, action="home.init", subject="agentgov",
            payload={"home": str(home.root), "config": str(self.ws.config_file), "by": "agentgov demo"},
        )
        self.say(f"{self.ws.root}: agentgov.toml (production guarded by human-approval, eval-thresholds, "
                 "data-validation-passed, lineage-complete; drift-within-limits warns), home .agentgov/, helpdesk.db")

    def generate(self) -> None:
        """While the Prefect server boots: the data, and the flows' imports."""
        import importlib

        from agentgov.pipelines.runtime import import_flow

        self.files = layout.generate_data(self.ws)
        for spec in FLOWS:
            import_flow(spec)
        for module in LIBRARIES:
            importlib.import_module(module)
        self.say("data/synthetic_tickets_{train,eval,reference,drift}.csv: 1,200 / 400 / 400 / 400 SYNTHETIC tickets; "
                 "300 synthetic customers in the helpdesk store")

    def track(self) -> None:
        tracked = []
        for version, split, role, suite in (("v1", "eval", "eval", SUITE), ("v2", "eval", "eval", SUITE), ("v2", "train", "train", None)):
            folder = self.ws.agent(version)
            added = self.flow(
                "agentgov.pipelines.add_data:add_data",
                path=str(folder / "data" / self.files[split].name), agent=str(folder), role=role, suite=suite,
            )
            tracked.append(f"{version} {added.path} (md5 {added.md5[:8]})")
        layout.commit(self.ws.root, "datasets tracked with DVC by agentgov demo")
        self.say("tracked " + ", ".join(tracked) + "; committed")

    def validate(self) -> None:
        checked = []
        for version in ("v1", "v2"):
            report = self.flow("agentgov.pipelines.validate_data:validate_data", agent=str(self.ws.agent(version)))
            if not report.passed:
                raise DemoError(f"the data contract of {version} failed; see {report.html_path}")
            checked += [f"{version} {r.dataset} ({r.rows} rows)" for r in report.results]
            self.details.setdefault("validation_reports", []).append(str(report.html_path))
        self.say(f"suite synthetic_tickets passed on {', '.join(checked)}")

    def register(self) -> None:
        for folder in ("v1", "v2"):
            version = self.flow("agentgov.pipelines.register_agent:register_agent", path=str(self.ws.agent(folder)), actor=self.user)
            self.versions[folder] = version.version
            self.say(f"{folder} is {version.ref} ({version.stage.value if version.stage else '?'}), "
                     f"git {version.lineage.get('git_commit', '?')[:10]}, datasets DVC-tracked")

    def evaluate(self) -> None:
        scores = {}
        for folder in ("v1", "v2"):
            result = self.eval(folder)
            scores[folder] = _score(result)
        self.details["eval"] = scores
        self.say("task success (queue), 95% CI: " + "; ".join(f"{f} {_fmt(s)}" for f, s in scores.items()))

    def promote_v1(self) -> None:
        decision = self.approve_and_promote("v1")
        if not decision["outcome"] == "allowed":
            raise DemoError(f"the gate did not let v1 into production: {decision['summary']} (decision {decision['id']})")
        self.details["decision"] = decision["id"]
        self.say(f"{REVIEWER} approved v1; gate to production: allowed ({decision['summary']}); decision {decision['id']}")

    def rollout(self) -> None:
        from agentgov.deploy.plan import load_plan
        from agentgov.pipelines.demo.traffic import GatewayTraffic, tickets
        from agentgov.pipelines.rollout import actions
        from agentgov.pipelines.rollout.controller import Context

        self.approve("v2", "the production step of the rollout passes the same gate")
        ctx = Context(self.config, self.plugins, self.audit)
        actions.start(ctx, AGENT, self.versions["v2"], load_plan(self.ws.plan), actor=self.user)
        gateway = self.gateway = self.services.enter_context(GatewayTraffic(self.config, AGENT))
        stop = threading.Event()
        sending = gateway.send(tickets(self.files["reference"], "ROLLOUT"), until=stop)
        try:
            final = self.flow("agentgov.pipelines.rollout.flow:rollout", name=AGENT, poll_s=0.5)
        finally:
            stop.set()
        sent = sending.result(timeout=60)
        if final["status"] != "succeeded":
            raise DemoError(f"the rollout of v2 ended {final['status']}: {final.get('detail')}")
        self.details.update(rollout=final["id"], rollout_traffic=sent.to_dict())
        self.say(f"rollout {final['id']}: {sent.requests} replayed reference tickets; answered by "
                 + ", ".join(f"{who} {n}" for who, n in sorted(sent.answered_by.items())))
        for line in _step_verdicts(self.audit, final["id"]):
            self.say(line)

    def drift(self) -> None:
        from agentgov.core.types import utcnow
        from agentgov.pipelines.demo.traffic import tickets
        from agentgov.pipelines.drift import check_drift

        gateway = self.gateway
        assert gateway is not None, "the rollout step starts the gateway"
        gateway.wait_for_production(self.versions["v2"])  # the launch traffic is v2's alone, from its first ticket
        began = utcnow()
        sent = gateway.send(tickets(self.files["drift"], "LAUNCH")).result(timeout=300)
        gateway.close()  # every buffered inference row is written before the check reads them
        # The window starts when the launch traffic did (the rollout's calls before it are not launch traffic):
        # whole minutes, as windows are given, ending after the last launch-day call.
        minutes = max(1, math.ceil((utcnow() - began).total_seconds() / 60))
        check = check_drift(
            self.config, self.plugins, AGENT, version=self.versions["v2"], reference=str(self.files["drift_reference"]),
            window=f"{minutes}m", now=began + timedelta(minutes=minutes), agent_dir=self.ws.agent("v2"), audit=self.audit,
            actor=self.user,
        )
        result = check.result
        report = str(check.report.html) if check.report else None
        self.details.update(drift_status=result.status.value, drift_report=report, drifted_columns=list(result.drifted_columns),
                            drift_traffic=sent.to_dict())
        self.say(f"{sent.requests} launch-day tickets (new HubOne topic, more chat and phone) to v2 in production: "
                 f"{result.share_drifted:.0%} of {len(result.columns)} columns drifted "
                 f"({', '.join(result.drifted_columns) or 'none'}); dataset verdict {result.status.value} "
                 f"(drifts from {result.drift_share_threshold:.0%})")
        for verdict in check.gate:
            self.say(f"gate to {verdict.stage}: drift-within-limits {verdict.status} ({verdict.mode} mode): {verdict.reason}")
            self.details.setdefault("gate", []).append(verdict.to_dict())
        self.say(f"Evidently report: {report or check.report_error}")

    def blocked(self) -> None:
        from agentgov.core.types import Decision

        folder = layout.broken_copy(self.ws)
        version = self.flow("agentgov.pipelines.register_agent:register_agent", path=str(folder), actor=self.user)
        self.versions["v1-broken"] = version.version
        score = _score(self.eval("v1-broken"))
        outcome = self.flow(
            "agentgov.pipelines.promote:promote_agent", name=AGENT, version=version.version, target="production", actor=self.user
        )
        decision = Decision.from_dict(outcome["decision"])
        if decision.allowed:
            raise DemoError(f"the gate let the broken {version.ref} into production (decision {decision.id})")
        self.details.update(decision=decision.id, eval=score)
        failing = ", ".join(f"{r.policy} {r.status.value}" for r in decision.results if r.status.value != "pass")
        self.say(f"{version.ref}, a copy of v1 that sends every ticket to 'general': task success {_fmt(score)}; "
                 f"gate to production: {decision.outcome.value} ({failing}); decision {decision.id}")
        self.reporter.decision(decision)

    def emergency(self) -> None:
        from agentgov.pipelines.rollout import actions
        from agentgov.pipelines.rollout.controller import Context

        outcome = actions.emergency_rollback(Context(self.config, self.plugins, self.audit), AGENT, actor=ON_CALL)
        before, after = outcome["aliases_before"], outcome["aliases_after"]
        self.details.update(aliases_before=before, aliases_after=after)
        self.say(f"{ON_CALL}: production v{before.get('production')} -> v{after.get('production')} at once, "
                 "no canary or shadow traffic, no analysis (recorded)")

    def verify(self) -> None:
        verified = self.audit.verify()
        self.details.update(records=verified.records, head=verified.head)
        self.say(f"audit log OK: {verified.records} records, hash chain head {verified.head[:16]}")

    # -- helpers ---------------------------------------------------------------------------------------------

    @contextmanager
    def step(self, name: str, title: str) -> Iterator[None]:
        self.said, self.details = [], {}
        began = time.perf_counter()
        with self.reporter.running(title):
            yield
        result = StepResult(name, title, tuple(self.said), time.perf_counter() - began, dict(self.details))
        self.steps.append(result)
        self.reporter.finished(result)

    def say(self, line: str) -> None:
        self.said.append(line)

    def flow(self, spec: str, /, **parameters: Any) -> Any:
        from agentgov.pipelines.runtime import run_flow

        return run_flow(spec, config=self.config, **parameters)

    def eval(self, folder: str) -> Any:
        from agentgov.evals.offline import default_workers

        return self.flow(
            "agentgov.pipelines.evaluate:evaluate_agent", name=AGENT, version=self.versions[folder],
            agent_dir=str(self.ws.agent(folder)), label_column="queue", response_field="queue",
            workers=default_workers(), actor=self.user,
        )

    def approve(self, folder: str, comment: str) -> None:
        from agentgov.core.types import AgentRef, Stage
        from agentgov.policies.approvals import approve

        approve(
            self.config, AgentRef(AGENT, version=self.versions[folder]), Stage.PRODUCTION, approver=REVIEWER,
            comment=comment, audit=self.audit, plugins=self.plugins,
        )

    def approve_and_promote(self, folder: str) -> dict[str, Any]:
        self.approve(folder, "reviewed the offline eval")
        outcome = self.flow(
            "agentgov.pipelines.promote:promote_agent", name=AGENT, version=self.versions[folder], target="production", actor=self.user
        )
        return outcome["decision"]

    def summary(self, reset: bool) -> DemoSummary:
        from agentgov.registry.backend import connect
        from agentgov.registry.store import versions

        assert self.config is not None and self.audit is not None
        found = tuple({"version": v.version, "stage": v.stage.value if v.stage else None, "aliases": list(v.aliases)}
                      for v in sorted(versions(connect(self.config), AGENT), key=lambda v: v.version))
        decisions = tuple(
            {"version": r.subject, "target": r.payload.get("target"), "outcome": r.payload.get("outcome"),
             "id": r.payload.get("id"), "actor": r.actor}
            for r in self.audit.records(subject_prefix=AGENT) if r.action == "decision"
        )
        summary = DemoSummary(str(self.ws.root), AGENT, reset, tuple(self.steps), found, decisions, self.look())
        import json

        self.ws.summary.write_text(json.dumps(summary.to_dict(), indent=2, default=str) + "\n", encoding="utf-8")
        return summary

    def look(self) -> tuple[Look, ...]:
        assert self.config is not None and self.audit is not None
        me = _agentgov()
        drift = next((s.details.get("drift_report") for s in self.steps if s.name == "drift"), None)
        broken = self.versions.get("v1-broken", 3)
        return (
            Look("the demo's folder (run the commands below in it)", f"cd {self.ws.root}"),
            Look("versions and stages", f"{me} versions {AGENT}"),
            Look("who moved what, when and why", f"{me} history {AGENT}"),
            Look("why the bad version was blocked", f"{me} policies explain {AGENT} {broken} --to production"),
            Look("the rollout, step by step", f"{me} rollout status {AGENT}"),
            Look("the drift report (Evidently HTML)", str(drift or f"{me} drift list {AGENT}")),
            Look("the governance console", f"{me} console   # then open http://127.0.0.1:8400/"),
            Look("MLflow's UI (versions, aliases, eval runs)",
                 f"{Path(sys.executable).parent / 'mlflow'} ui --backend-store-uri {self.config.tracking_uri}   # http://127.0.0.1:5000"),
            Look("Prefect's UI (every flow run of the demo)", f"{me} server start   # http://127.0.0.1:4200; `{me} server stop` after"),
            Look("the audit log", f"{self.audit.path}   ({me} audit verify)"),
            Look("the helpdesk store", f"sqlite3 {self.ws.helpdesk} 'select routed_by, count(*) from tickets group by 1'"),
            Look("this summary as JSON", str(self.ws.summary)),
        )


def _agentgov() -> str:
    found = shutil.which("agentgov", path=str(Path(sys.executable).parent))
    return found or "agentgov"


def _score(result: Any) -> dict[str, float]:
    s = result.summary
    low, high = s.success_ci
    return {"rate": round(s.success_rate, 4), "ci_low": round(low, 4), "ci_high": round(high, 4), "samples": s.samples}


def _fmt(score: dict[str, float]) -> str:
    return f"{score['rate']:.3f} ({score['ci_low']:.3f}-{score['ci_high']:.3f})"


def _step_verdicts(audit: AuditLog, rollout: str) -> list[str]:
    """One line per analysed step of the rollout: each check, its verdict and sample size."""
    lines = []
    for record in audit.records(subject_prefix=AGENT):
        payload = record.payload.get("payload", {})
        if record.action != "event.rollout-step" or payload.get("rollout") != rollout:
            continue
        analysis = payload.get("analysis", {})
        counts = analysis.get("counts", {})
        shown = "; ".join(f"{c.get('check')} {c.get('verdict')}: {c.get('reason')}" for c in analysis.get("checks", []))
        lines.append(
            f"{payload.get('step')}: {payload.get('verdict')} on {counts.get('candidate', 0)} v2 and "
            f"{counts.get('production', 0)} production calls; {shown or 'no checks'}"
        )
    return lines
