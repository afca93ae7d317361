"""``agentgov demo [DIR]``: the example agent's whole life, narrated, in a folder of its own."""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from agentgov.cli.output import print_json, print_table, say, status

if TYPE_CHECKING:
    from agentgov.core.types import Decision
    from agentgov.pipelines.demo import DemoSummary, StepResult

STEPS = 12
INTERRUPTED = 130


class _Narrator:
    """A spinner per step on a terminal, then its lines and wall time (plain lines when piped)."""

    def __init__(self) -> None:
        self.index = 0
        self.decisions: list[Decision] = []

    def running(self, title: str) -> AbstractContextManager[object]:
        self.index += 1
        return status(f"[{self.index}/{STEPS}] {title}")

    def finished(self, step: StepResult) -> None:
        say(f"[{self.index}/{STEPS}] {step.title} ({step.seconds:.1f} s)")
        for line in step.said:
            say(f"      {line}")
        from agentgov.cli.policy_commands import print_decision

        for decision in self.decisions:
            print_decision(decision)
        self.decisions.clear()
        sys.stdout.flush()

    def decision(self, decision: Decision) -> None:
        self.decisions.append(decision)  # shown under its step's lines


@click.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False), default=Path("agentgov-demo"))
@click.option(
    "--examples", type=click.Path(path_type=Path, file_okay=False, exists=True), default=None,
    help="The example agent's folder (default: examples/support-router of the clone agentgov is installed from).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary only.")
def demo(directory: Path, examples: Path | None, as_json: bool) -> None:
    """Run the example agent's whole life in DIRECTORY (default ./agentgov-demo), narrated.

    Registers, evaluates, promotes, rolls out behind the gateway, checks drift,
    blocks a bad version, rolls back in an emergency and verifies the audit log;
    then says where to look at each result. Nothing to configure and no service
    needed; every service it starts is stopped when it ends, also on Ctrl-C.
    Run again in the same folder to start over (an earlier demo's files are removed).
    """
    from agentgov.pipelines.demo import Quiet, run_demo

    try:
        summary = run_demo(directory, Quiet() if as_json else _Narrator(), examples=examples)
    except KeyboardInterrupt:
        click.echo("agentgov: the demo was interrupted; every service it started has stopped (run it again to start over)", err=True)
        raise SystemExit(INTERRUPTED) from None
    if as_json:
        print_json(summary.to_dict())
        return
    _print_summary(summary)


def _print_summary(summary: DemoSummary) -> None:
    say("")
    say(f"Done in {summary.seconds:.0f} s" + (" (the earlier demo in this folder was started over)" if summary.reset else "") + ".")
    print_table(
        ("Version", "Stage", "Aliases"),
        [(f"{summary.agent}/{v['version']}", v["stage"] or "-", ", ".join(v["aliases"]) or "-") for v in summary.versions],
        title=f"{summary.agent} now",
    )
    print_table(
        ("Version", "To", "Outcome", "By", "Decision"),
        [(d["version"], d["target"], d["outcome"], d["actor"], d["id"]) for d in summary.decisions],
        title="Gate decisions, in order",
    )
    say("Look at each result:")
    for item in summary.look:
        say(f"  {item.what}:")
        say(f"    {item.where}")


COMMANDS = (demo,)
