"""``agentgov data add|status|checkout|profile|validate``: versioned datasets and their contracts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from agentgov.cli.main import State
from agentgov.cli.output import plural, print_json, print_table, say, status

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
@click.option("--role", type=click.Choice(["eval", "train", "reference"]), default=None, help="Default: the role agent.yaml lists it with, else eval.")
@click.option("--suite", "suite", default=None, help="Suite JSON file (relative to the agent folder) the dataset must satisfy; attached to a listed dataset too.")
@click.option(
    "--agent", "agent_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
    help="The agent's folder (holding agent.yaml). Default: the nearest folder above PATH that holds one, else this one.",
)
@_JSON
@click.pass_obj
def add(state: State, path: Path, role: str | None, suite: str | None, agent_dir: Path | None, as_json: bool) -> None:
    """Track the dataset PATH with DVC and list it in the agent's manifest.

    A file that git tracks (a dataset shipped in the repository) is taken out
    of git's index first (`git rm --cached`; the file stays), as DVC needs; in
    a git repository the .dvc pointer and .gitignore are staged. If anything
    fails, git and the files are left as they were.
    """
    from agentgov.data.datasets import agent_folder_of, listed
    from agentgov.pipelines.runtime import run_flow

    agent_dir = agent_dir or agent_folder_of(path)
    if suite is not None:
        suite = _manifest_relative(suite, agent_dir.resolve())
    if role is None:
        entry = listed(path, agent_dir)
        role = entry.role if entry is not None else "eval"
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
    if added.untracked_from_git:
        say(f"{added.path} was in git: took it out of git's index (`git rm --cached`, the file stays) so that DVC versions it.")
    if added.dvc_initialised:
        say("Initialised DVC (commit its .dvc/ folder).")
    what = "Listed" if added.manifest_updated else "Re-tracked"
    say(f"{what} {added.path} ({added.role}) at md5 {added.md5[:12]}" + (", pushed to the DVC remote" if added.pushed else "") + ".")
    if added.suite_attached:
        say(f"Its suite is now {added.suite}" + (f" (was {added.suite_replaced})." if added.suite_replaced else "."))
    if added.staged:
        say(f"Staged {', '.join(added.staged)} in git: commit them with agent.yaml; the data itself is in the DVC cache, not in git.")
    else:
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
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None, help="Default: suites/NAME.json in the agent's folder.")
@click.option("--force", is_flag=True, help="Replace an existing suite file.")
def profile(path: Path, name: str, out: Path | None, force: bool) -> None:
    """Propose a Great Expectations suite from the reference dataset PATH, for you to review."""
    import os
    import shlex

    from agentgov.data.contracts import profile as propose
    from agentgov.data.contracts import write_suite
    from agentgov.data.datasets import agent_folder_of

    agent_dir = agent_folder_of(path)
    with status(f"Profiling {path}"):
        suite = propose(path, name)
    written = write_suite(suite, out or Path(os.path.relpath(agent_dir / "suites" / f"{name}.json")), force=force)
    say(f"Wrote {written}: {plural(len(suite['expectations']), 'expectation')} proposed from {path}. Review it, then attach it:")
    try:
        relative = written.resolve().relative_to(agent_dir.resolve()).as_posix()
    except ValueError:  # outside the agent folder: the manifest cannot name it
        say("move it beside the agent and name it as the dataset's 'suite:' in agent.yaml.")
        return
    say(f"  agentgov data add {shlex.quote(str(path))} --suite {shlex.quote(relative)}")


@data.command("validate")
@click.argument("datasets", nargs=-1)
@_AGENT
@_JSON
@click.pass_obj
def validate(state: State, datasets: tuple[str, ...], agent_dir: Path, as_json: bool) -> None:
    """Check the agent's datasets (or only DATASETS) against their suites; exit 1 if an expectation fails."""
    from agentgov.data.datasets import manifest_file
    from agentgov.data.validation import selected
    from agentgov.pipelines.runtime import run_flow
    from agentgov.registry.manifest import load_manifest

    manifest_path = manifest_file(agent_dir)
    manifest = load_manifest(manifest_path)
    names = [_manifest_relative(d, manifest_path.parent) for d in datasets]
    if not selected(manifest, names):  # names a dataset without a suite, or one not listed: a one-line error
        # Nothing to check: no flow run, no empty report in the home.
        if as_json:
            print_json({"agent": manifest.name, "passed": True, "results": [], "json": None, "html": None})
        else:
            say(f"Nothing to validate and no report written: no dataset of {manifest.name} names a suite (`agentgov data add PATH --suite FILE`).")
        return
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
        passed = result.evaluated - len(result.failed)
        say(f"{result.dataset} against {result.suite}: {verdict} ({passed}/{plural(result.evaluated, 'expectation')}, {plural(result.rows, 'row')})")
    failing = [(r.dataset, f) for r in report.results for f in r.failed]
    if failing:
        rows = [
            (dataset, f.column or "(table)", f.expectation, "" if f.unexpected_share is None else f"{f.unexpected_share:.1%}", ", ".join(f.examples))
            for dataset, f in failing
        ]
        print_table(("Dataset", "Column", "Expectation", "Unexpected", "Examples"), rows, title="Failing expectations")
    say(f"Report: {report.html_path}")


COMMANDS = (data,)
