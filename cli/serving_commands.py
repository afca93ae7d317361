"""``agentgov build``, ``serve``, ``deploy`` and ``undeploy``: a bento per version, served on loopback or written for a cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from agentgov.cli.main import State
from agentgov.cli.output import print_json, say

_REF_HELP = "NAME@STAGE, NAME/VERSION or NAME VERSION; a stage is resolved once, to its version number."


def _progress(quiet: bool) -> Any:
    """Status lines on stderr while a build or deploy runs (seconds); none with --json."""
    if quiet:
        return lambda _: None
    return lambda line: click.echo(f"agentgov: {line}", err=True)


def _ref(ref: str, version: int | None) -> Any:
    from agentgov.pipelines.serving import parse_ref

    return parse_ref(ref, version)


@click.command()
@click.argument("ref")
@click.argument("version", required=False, type=int)
@click.option(
    "--target", default="bentoml-local", show_default=True, help="The deploy target that builds (its artifact)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def build(state: State, ref: str, version: int | None, target: str, as_json: bool) -> None:
    """Build the version's bento (BentoML's build; no package index is contacted) and record it in its bill of materials.

    REF is NAME@STAGE, NAME/VERSION or NAME VERSION.
    """
    from agentgov.pipelines import serving

    built = serving.build(state.config, state.plugins, _ref(ref, version), target=target, progress=_progress(as_json))
    if as_json:
        print_json(built.to_dict())
        return
    how = "found, already built" if built.artifact.reused else "built"
    say(
        f"Bento {built.artifact.tag} of {built.version.ref} {how} (sha256 {built.artifact.sha256[:16]}); in its bill of materials."
    )


@click.command()
@click.argument("ref")
@click.argument("version", required=False, type=int)
@click.option("--port", type=click.IntRange(1, 65535), default=3000, show_default=True, help="Port on 127.0.0.1.")
@click.pass_obj
def serve(state: State, ref: str, version: int | None, port: int) -> None:
    """Serve the version's bento on 127.0.0.1 in the foreground (Ctrl-C stops it).

    REF is NAME@STAGE, NAME/VERSION or NAME VERSION. Routes: POST /act, GET /info,
    /livez, /healthz, /readyz, /metrics.
    """
    from agentgov.pipelines import serving

    def announce(built: Any, url: str) -> None:
        say(
            f"Serving {built.version.ref} (bento {built.artifact.tag}) on {url}: POST {url}/act, GET {url}/info. Ctrl-C stops."
        )

    code = serving.serve(
        state.config, state.plugins, _ref(ref, version), port=port, progress=_progress(False), announce=announce
    )
    if code not in (0, 130):
        raise click.exceptions.Exit(1)


@click.command()
@click.argument("ref")
@click.argument("version", required=False, type=int)
@click.option(
    "--target",
    default="bentoml-local",
    show_default=True,
    help="Where: bentoml-local, kubernetes, or a plugin's target.",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="bentoml-local: port on 127.0.0.1 (default: a free one).",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="kubernetes: folder for the manifests (default: <home>/kubernetes/NAME).",
)
@click.option(
    "--alongside",
    is_flag=True,
    help="bentoml-local: serve this version beside the agent's main deployment instead of replacing it "
    "(a rollout's canary or shadow, for `agentgov gateway NAME --served`).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def deploy(
    state: State,
    ref: str,
    version: int | None,
    target: str,
    port: int | None,
    output: Path | None,
    alongside: bool,
    as_json: bool,
) -> None:
    """Deploy the version: start it in the background on 127.0.0.1 (bentoml-local) or write its manifests (kubernetes).

    REF is NAME@STAGE, NAME/VERSION or NAME VERSION. A new deployment replaces
    the agent's running one, unless --alongside.
    """
    from agentgov.pipelines import serving

    options = {"port": port, "output": str(output) if output else None, "alongside": alongside or None}
    built, done = serving.deploy(
        state.config,
        state.plugins,
        _ref(ref, version),
        target=target,
        options=options,
        progress=_progress(as_json),
        audit=state.home.audit_log,
        actor=state.config.user,
    )
    if as_json:
        print_json({**done.to_dict(), "bento_sha256": built.artifact.sha256})
        return
    where = done.url or ", ".join(str(f) for f in done.files)
    pid = f" (pid {done.pid}, log {done.log})" if done.pid else ""
    say(f"{built.version.ref} {done.status} on {target}: {where}{pid}.")
    if done.note:
        say(done.note[0].upper() + done.note[1:] + ".")


@click.command()
@click.argument("name")
@click.option("--target", default="bentoml-local", show_default=True, help="The target it was deployed to.")
@click.option(
    "--output",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="kubernetes: the folder the manifests were written to.",
)
@click.option(
    "--version",
    "only_version",
    type=click.IntRange(1),
    default=None,
    help="bentoml-local: stop only the process serving this version (default: the agent's every process).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def undeploy(
    state: State, name: str, target: str, output: Path | None, only_version: int | None, as_json: bool
) -> None:
    """Stop the agent's deployment on the target, and the versions served alongside it (a stale pid is handled),
    or remove its written manifests."""
    from agentgov.core.types import AgentRef
    from agentgov.pipelines import serving

    AgentRef(name)  # a bad name is one line, exit 2
    options = {"output": str(output) if output else None, "version": only_version}
    done = serving.undeploy(
        state.config,
        state.plugins,
        name,
        target=target,
        options=options,
        progress=_progress(as_json),
        audit=state.home.audit_log,
        actor=state.config.user,
    )
    if as_json:
        print_json(done.to_dict() if done else {"name": name, "target": target, "status": "not-deployed"})
        return
    if done is None:
        say(f"Nothing of {name} is deployed on {target}.")
        return
    say(f"Undeployed {name} from {target}: {done.note}.")


COMMANDS = (build, serve, deploy, undeploy)
