"""``agentgov drift NAME|list|open|ui`` and ``agentgov log import``: live traffic and its drift."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import click

from agentgov.cli.main import State
from agentgov.cli.output import print_json, print_table, say, status, warn
from agentgov.core.errors import InvalidValue

_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
_STAGES = ("production", "shadow", "canary")


class _RunByDefault(click.Group):
    """``agentgov drift NAME ...`` means ``agentgov drift run NAME ...``; ``list``, ``open`` and ``ui`` are subcommands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_RunByDefault)
def drift() -> None:
    """Drift of an agent's live traffic: `agentgov drift NAME` checks it; list, open and ui show the reports."""


@drift.command("run")
@click.argument("name")
@click.option("--version", "version", type=int, default=None, help="Default: the version in production (else shadow, canary).")
@click.option(
    "--reference", default="production-window", show_default=True,
    help="eval (the version's eval dataset), production-window (production traffic in the window before) or a FILE.",
)
@click.option("--window", default="24h", show_default=True, help="How far back the current traffic goes: 30m, 24h, 7d...")
@click.option("--until", "until", default=None, metavar="TIME",
              help="Where the window ends, an ISO 8601 time such as 2026-11-24T12:00Z (default: now).")
@click.option("--agent", "agent_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("."), show_default=True,
              help="The agent's folder, where --reference eval finds the dataset.")
@click.option("--evaluator", default=None, help="The evaluator plugin to use (default: [drift] evaluator in agentgov.toml, else evidently-drift).")
@_JSON
@click.pass_obj
def run(
    state: State, name: str, version: int | None, reference: str, window: str, until: str | None, agent_dir: Path,
    evaluator: str | None, as_json: bool,
) -> None:
    """Compare agent NAME's last window of traffic with a reference; record the verdict for the gate.

    Exits 1 when the data drifted, the evaluation failed, or a stage's drift-within-limits would fail.
    """
    from agentgov.pipelines.drift import check_drift

    end = _time(until) if until else None
    with status(f"Checking drift of {name}", quiet=as_json):
        check = check_drift(
            state.config, state.plugins, name, version=version, reference=reference, window=window, now=end,
            agent_dir=agent_dir, evaluator=evaluator, audit=state.home.audit_log, actor=state.config.user,
        )
    result = check.result
    if as_json:
        print_json(check.to_dict())
    else:
        _print_check(check)
    if result.status.value in ("drift", "error") or any(v.status in ("fail", "error") and v.mode == "enforce" for v in check.gate):
        raise click.exceptions.Exit(1)


def _time(text: str) -> Any:
    from datetime import UTC, datetime

    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidValue(f"--until {text!r}: expected an ISO 8601 time, such as 2026-11-24T12:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _print_check(check: Any) -> None:
    result = check.result
    say(f"{check.agent}/{check.version}: {result.current_rows} calls in {check.window_start:%Y-%m-%d %H:%M} .. "
        f"{check.window_end:%Y-%m-%d %H:%M} UTC against {check.reference} ({result.reference_rows} rows).")
    if result.columns:
        rows = [(c.column, c.column_type, c.method, f"{c.score:.4g}", f"{c.threshold:.3g}", "-" if c.effect is None else f"{c.effect:.3g}",
                 "DRIFT" if c.drifted else ("ok, negligible" if c.note.startswith("negligible") else "ok"))
                for c in result.columns]
        print_table(("Column", "Type", "Test", "Score", "Threshold", "Effect", "Drifted"), rows, title="Drift per column (all rows)")
    some = (f"{len(result.drifted_columns)} of {len(result.columns)} columns drifted ({result.share_drifted:.0%}): "
            f"{', '.join(result.drifted_columns)}; below the {result.drift_share_threshold:.0%} at which {check.evaluator} "
            "calls the data set drifted.")
    verdict = {
        "ok": some if result.drifted_columns else f"No drift: none of the {len(result.columns)} columns drifted.",
        "drift": f"DRIFT: {result.share_drifted:.0%} of columns drifted: {', '.join(result.drifted_columns)}.",
        "insufficient-data": f"Insufficient data: {result.message}.",
        "error": f"The evaluation failed: {result.message}",
    }[result.status.value]
    say(verdict)
    if result.message and result.status.value in ("ok", "drift"):
        say(f"Note: {result.message}.")
    negligible = [c for c in result.columns if c.note]
    if negligible:
        say("Not drift: " + "; ".join(f"{c.column} ({c.note})" for c in negligible) + ".")
    for verdict_ in check.gate:
        word = {"pass": "passes", "fail": "FAILS", "inconclusive": "is inconclusive", "error": "is an ERROR"}.get(verdict_.status, verdict_.status)
        mode = "" if verdict_.mode == "enforce" else f" ({verdict_.mode}: does not block)"
        say(f"Gate to {verdict_.stage}: drift-within-limits {word}{mode}: {verdict_.reason}")
    if check.gate_error:
        warn(f"cannot tell the gate's verdict: {check.gate_error}")
    elif not check.gate:
        say("No stage's gate runs drift-within-limits (configure it under stages.<stage>.policies in agentgov.toml).")
    if check.report_error:
        warn(f"{check.evaluator} could not render the report ({check.report_error}); the verdict above stands")
    if check.report is not None:
        say(check.report.note)
        say(f"Report: {check.report.html}" + (f" (MLflow: {check.report_uri})" if check.report_uri != str(check.report.html) else ""))
    say(f"Recorded as the agentgov.drift tag of {check.agent}/{check.version}, which drift-within-limits reads.")


@drift.command("list")
@click.argument("name")
@_JSON
@click.pass_obj
def list_(state: State, name: str, as_json: bool) -> None:
    """List agent NAME's drift reports, oldest first."""
    from agentgov.plugins.evaluators.evidently_drift import list_reports

    reports = list_reports(state.config.home, name)
    entries = [{"report": p.stem, "html": str(p), "snapshot": str(p.with_suffix(".json")), "bytes": p.stat().st_size} for p in reports]
    if as_json:
        print_json(entries)
        return
    if not entries:
        say(f"No drift reports for {name}: `agentgov drift {name}`.")
        return
    print_table(("Report", "HTML", "Size"), [(e["report"], e["html"], f"{e['bytes'] / 1e6:.1f} MB") for e in entries],
                title=f"Drift reports of {name}")


@drift.command("open")
@click.argument("name")
@click.argument("report", required=False)
@click.pass_obj
def open_(state: State, name: str, report: str | None) -> None:
    """Print the path of agent NAME's REPORT (default: the latest) and open it in a browser when there is a display."""
    from agentgov.plugins.evaluators.evidently_drift import list_reports

    reports = list_reports(state.config.home, name)
    if not reports:
        raise InvalidValue(f"no drift reports for {name}", hint=f"run `agentgov drift {name}` first")
    if report is None:
        chosen = reports[-1]
    else:
        matches = [p for p in reports if p.stem == report or p.name == report or p.stem.startswith(report)]
        if len(matches) != 1:
            raise InvalidValue(f"{'no' if not matches else 'more than one'} drift report of {name} matches {report!r}",
                               hint=f"`agentgov drift list {name}` lists them")
        chosen = matches[0]
    say(str(chosen))
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform in ("darwin", "win32"):
        import webbrowser

        webbrowser.open(chosen.as_uri())


@drift.command("ui")
@click.option("--port", type=int, default=8000, show_default=True)
@click.pass_obj
def ui(state: State, port: int) -> None:
    """Serve the Evidently UI on 127.0.0.1 for the drift workspace (one project per agent); Ctrl-C stops it."""
    from agentgov.pipelines.runtime import die_with_parent, stop_process
    from agentgov.plugins.evaluators.evidently_drift import workspace_dir

    workspace = workspace_dir(state.config.home)
    if not workspace.is_dir():
        raise InvalidValue(f"no Evidently workspace at {workspace} yet", hint="run `agentgov drift NAME` first")
    evidently = Path(sys.executable).parent / "evidently"
    say(f"Evidently UI for {workspace} on http://127.0.0.1:{port} (Ctrl-C stops it)")
    command = [str(evidently), "ui", "--workspace", str(workspace), "--host", "127.0.0.1", "--port", str(port)]
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    log = state.config.home / "logs" / "evidently-ui.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM stops the UI as Ctrl-C does

    # The UI must not outlive agentgov: SIGTERM is handled like Ctrl-C, and on Linux a kill -9 of
    # agentgov sends the UI SIGTERM too (it would otherwise be re-parented to pid 1, still listening).
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        with open(log, "ab") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, preexec_fn=die_with_parent())
            try:
                code = process.wait()
            except KeyboardInterrupt:
                stop_process(process)
                return
    finally:
        signal.signal(signal.SIGTERM, previous)
    if code != 0:
        warn(f"the Evidently UI stopped with status {code}; see {log}")
        raise click.exceptions.Exit(1)


@click.group()
def log() -> None:
    """The inference log: what agents saw and did, as Parquet in the home."""


@log.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--agent", "agent", required=True, help="The agent the calls belong to.")
@click.option("--version", "version", type=int, default=None, help="The version that served them (else the file's version column).")
@click.option("--stage", type=click.Choice(_STAGES), default=None, help="Where it served them (else the file's stage column, else production).")
@_JSON
@click.pass_obj
def import_(state: State, file: Path, agent: str, version: int | None, stage: str | None, as_json: bool) -> None:
    """Load FILE (CSV, JSON Lines or Parquet) into the inference log after checking every row.

    Needed: time and request_id columns and the request's fields, as request.<field> columns or a request object.
    """
    from agentgov.evals import inference_log

    with status(f"Importing {file}", quiet=as_json):
        frame = inference_log.normalise(inference_log.load_file(file), agent=agent, version=version, stage=stage)
        written = inference_log.append_frame(state.config.home, frame)
    summary = {
        "agent": agent,
        "rows": len(frame),
        "files": [str(p) for p in written],
        "first": frame["time"].min().isoformat(),
        "last": frame["time"].max().isoformat(),
    }
    state.home.audit_log.append(actor=state.config.user, action="log.import", subject=agent,
                                payload={**summary, "source": str(file)})
    if as_json:
        print_json(summary)
    else:
        say(f"Imported {len(frame)} calls of {agent} ({summary['first']} .. {summary['last']}) into {len(written)} file(s).")


COMMANDS = (drift, log)
