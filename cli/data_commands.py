"""``agentgov data add|status|checkout|profile|validate``: versioned datasets and their contracts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from agentgov.cli.main import State
from agentgov.cli.output import print_json, print_table, say, status

if TYPE_CHECKING:
    from agentgov.data.validation import ValidationReport

_AGENT = click.option(
    "--agent", "agent_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("."), show_default=True,
    help="The agent's folder (holding agent.yaml).",
)
_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.group()
def data() -> None:
    """Version an agent's datasets with DVC and check them against Great Expectations suites."""


@data.command("add")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--role", type=click.Choice(["eval", "train", "reference"]), default="eval", show_default=True)
@click.option("--suite", "suite", default=None, help="Suite JSON file (relative to the agent folder) the dataset must satisfy.")
@_AGENT
@_JSON
@click.pass_obj
def add(state: State, path: Path, role: str, suite: str | None, agent_dir: Path, as_json: bool) -> None:
    """Track the dataset PATH with DVC and list it in the agent's manifest."""
    from agentgov.pipelines.runtime import run_flow

    with status(f"Tracking {path}", quiet=as_json):
        added = run_flow(
            "agentgov.pipelines.add_data:add_data",
            config=state.config,
            console=state.debug,
            path=str(path),
            agent=str(agent_dir),
            role=role,
            suite=suite,
        )
    state.home.audit_log.append(actor=state.config.user, action="data.add", subject=added.agent, payload=added.to_dict())
    if as_json:
        print_json(added.to_dict())
        return
    if added.dvc_initialised:
        say("Initialised DVC (commit its .dvc/ folder).")
    what = "Listed" if added.manifest_updated else "Re-tracked"
    say(f"{what} {added.path} ({added.role}) at md5 {added.md5[:12]}" + (", pushed to the DVC remote" if added.pushed else "") + ".")
    say(f"Commit {added.path}.dvc and agent.yaml; the data itself is in the DVC cache, not in git.")


@data.command("status")
@_AGENT
@_JSON
def status_(agent_dir: Path, as_json: bool) -> None:
    """List the manifest's datasets: tracked md5 and whether the file still matches it."""
    from agentgov.data.datasets import status as dataset_status

    found = dataset_status(agent_dir)
    if as_json:
        print_json([s.to_dict() for s in found])
        return
    if not found:
        say("The manifest lists no datasets: `agentgov data add PATH`.")
        return
    rows = [(s.path, s.role, (s.tracked_md5 or "-")[:12], s.state, s.suite or "") for s in found]
    print_table(("Dataset", "Role", "Tracked md5", "State", "Suite"), rows, title="Datasets")


@data.command("checkout")
@click.argument("name")
@click.argument("version")
@_AGENT
@_JSON
@click.pass_obj
def checkout(state: State, name: str, version: str, agent_dir: Path, as_json: bool) -> None:
    """Restore the datasets agent NAME's VERSION (a number or a stage) was registered with."""
    from agentgov.data.checkout import checkout_version

    with status(f"Restoring the datasets of {name} {version}", quiet=as_json):
        restored = checkout_version(name, version, agent_dir=agent_dir, config=state.config)
    if as_json:
        print_json([r.to_dict() for r in restored])
    else:
        rows = [(r.path, (r.md5 or "-")[:12], r.outcome, r.source) for r in restored]
        print_table(("Dataset", "md5", "Outcome", "From"), rows, title=f"Datasets of {name} {version}")
    if not all(r.ok for r in restored):
        raise click.exceptions.Exit(1)


@data.command("profile")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--suite", "name", required=True, help="The suite's name.")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None, help="Default: suites/NAME.json.")
@click.option("--force", is_flag=True, help="Replace an existing suite file.")
def profile(path: Path, name: str, out: Path | None, force: bool) -> None:
    """Propose a Great Expectations suite from the reference dataset PATH, for you to review."""
    from agentgov.data.contracts import profile as propose
    from agentgov.data.contracts import write_suite

    with status(f"Profiling {path}"):
        suite = propose(path, name)
    written = write_suite(suite, out or Path("suites") / f"{name}.json", force=force)
    say(f"Wrote {written}: {len(suite['expectations'])} expectations proposed from {path}. Review it, then name it")
    say("as the dataset's 'suite:' in agent.yaml (or `agentgov data add PATH --suite FILE`).")


@data.command("validate")
@click.argument("datasets", nargs=-1)
@_AGENT
@_JSON
@click.pass_obj
def validate(state: State, datasets: tuple[str, ...], agent_dir: Path, as_json: bool) -> None:
    """Check the agent's datasets (or only DATASETS) against their suites; exit 1 if an expectation fails."""
    from agentgov.data.datasets import manifest_file
    from agentgov.pipelines.runtime import run_flow
    from agentgov.registry.manifest import load_manifest

    manifest_path = manifest_file(agent_dir)
    manifest = load_manifest(manifest_path)
    names = [_manifest_relative(d, manifest_path.parent) for d in datasets]
    with status(f"Validating the datasets of {manifest.name}", quiet=as_json):
        report = run_flow(
            "agentgov.pipelines.validate_data:validate_data",
            config=state.config,
            console=state.debug,
            agent=str(manifest_path.parent),
            datasets=names,
        )
    if as_json:
        print_json(report.to_dict())
    elif not report.results:
        say(f"No dataset of {manifest.name} names a suite: add 'suite: suites/NAME.json' to a dataset in agent.yaml.")
    else:
        _print_report(report)
    if not report.passed:
        raise click.exceptions.Exit(1)


def _manifest_relative(name: str, agent_dir: Path) -> str:
    """A dataset named as a path from here, or as the manifest writes it."""
    candidate = Path(name).resolve()
    try:
        return candidate.relative_to(agent_dir).as_posix() if candidate.exists() else name
    except ValueError:
        return name


def _print_report(report: ValidationReport) -> None:
    for result in report.results:
        verdict = "passed" if result.passed else "FAILED"
        say(f"{result.dataset} against {result.suite}: {verdict} ({result.evaluated - len(result.failed)}/{result.evaluated} expectations, {result.rows} rows)")
    failing = [(r.dataset, f) for r in report.results for f in r.failed]
    if failing:
        rows = [
            (dataset, f.column or "(table)", f.expectation, "" if f.unexpected_share is None else f"{f.unexpected_share:.1%}", ", ".join(f.examples))
            for dataset, f in failing
        ]
        print_table(("Dataset", "Column", "Expectation", "Unexpected", "Examples"), rows, title="Failing expectations")
    say(f"Report: {report.html_path}")


COMMANDS = (data,)
