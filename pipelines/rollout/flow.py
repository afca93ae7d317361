"""The ``rollout`` flow: drive an agent's rollout until it ends or waits for a person.

The rollout itself is recorded beforehand (:func:`agentgov.pipelines.rollout.actions.start`);
the flow only reconciles, so running it again (``rollout resume``, a restarted
control plane, another machine) picks up where the committed state stands.
Parameters are plain JSON values, so it also runs as a job of the control
plane's runner or as a Prefect deployment.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from agentgov.pipelines.runtime import publish_table


@flow(name="rollout", flow_run_name="rollout {name}", log_prints=False)
def rollout(name: str, poll_s: float = 5.0) -> dict[str, Any]:
    """Reconcile the rollout of ``name`` until it ends or pauses; its state as JSON."""
    from agentgov.pipelines.rollout.controller import Context, drive

    ctx = Context.load()
    state = drive(ctx, name, poll_s=poll_s)
    rows = [
        ("rollout", state.id),
        ("candidate", f"v{state.candidate}"),
        ("production before", f"v{state.baseline}" if state.baseline else "-"),
        ("status", state.status + (f" ({state.reason})" if state.reason else "")),
        ("step", state.describe_step()),
        ("detail", state.detail),
    ]
    publish_table(
        f"rollout-{name}",
        f"rollout of {name}/{state.candidate}: {state.status}",
        ("What", "Value"),
        rows,
        description=state.detail,
        masker=ctx.audit.masker,
    )
    return state.to_dict()
