"""Offline evaluation, orchestrated: the version and its checked eval data, the agent run over it, the record.

The steps are :mod:`agentgov.evals.offline`'s; reading the data and checking
it against what DVC tracked is :mod:`agentgov.data`'s. The ``evaluate-agent``
flow runs each step as a task; :func:`evaluate` runs them in one call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from agentgov.data.readers import read_dataset
from agentgov.data.versioning import file_md5
from agentgov.evals.offline import (
    DEFAULT_LABEL,
    DEFAULT_RESPONSE_FIELD,
    EVAL_ROLE,
    EvalError,
    EvalResult,
    EvalSet,
    build_result,
    check_tracked,
    locate,
    record,
    run_eval,
    split_rows,
)
from agentgov.registry.backend import connect
from agentgov.registry.store import get

if TYPE_CHECKING:
    from agentgov.core.audit import AuditLog
    from agentgov.core.config import Config
    from agentgov.core.types import AgentRef


def load_eval_set(
    config: Config,
    ref: AgentRef,
    *,
    dataset: str = EVAL_ROLE,
    agent_dir: Path | None = None,
    label_column: str = DEFAULT_LABEL,
    allow_untracked: bool = False,
) -> EvalSet:
    """The version, its checked eval file, and the rows split into requests and expected answers."""
    version = get(connect(config), ref)
    file, path = locate(version, dataset, agent_dir or Path.cwd())
    if not file.is_file():
        raise EvalError(f"{file}: {'is a folder' if file.is_dir() else 'no such file'}")
    data = check_tracked(version, file, path, file_md5(file), allow_untracked=allow_untracked)
    return split_rows(version, data, read_dataset(data.file), label_column)


def evaluate(
    config: Config,
    ref: AgentRef,
    *,
    audit: AuditLog,
    actor: str,
    dataset: str = EVAL_ROLE,
    agent_dir: Path | None = None,
    label_column: str = DEFAULT_LABEL,
    response_field: str = DEFAULT_RESPONSE_FIELD,
    workers: int = 1,
    allow_untracked: bool = False,
    on_done: Callable[[], object] | None = None,
) -> EvalResult:
    """Load, run and record in one call (what the flow does task by task)."""
    eval_set = load_eval_set(config, ref, dataset=dataset, agent_dir=agent_dir, label_column=label_column, allow_untracked=allow_untracked)
    return record(config, run(config, eval_set, response_field=response_field, workers=workers, on_done=on_done), audit=audit, actor=actor)


def run(
    config: Config, eval_set: EvalSet, *, response_field: str, workers: int, on_done: Callable[[], object] | None = None
) -> EvalResult:
    """Load the registered version and call it on every row; what it measured, not yet recorded.

    An agent with tools runs in shadow mode: an offline eval never causes a side
    effect (each side-effecting tool answers with its stub; read-only tools execute).
    """
    from functools import partial

    from agentgov.registry.loading import load_agent

    agent = load_agent(eval_set.version.ref, config)
    start = time.perf_counter()
    act = partial(agent.act, mode="shadow")
    outcomes = run_eval(act, eval_set, response_field=response_field, workers=workers, on_done=on_done)
    return build_result(eval_set, outcomes, response_field=response_field, workers=workers, duration_s=time.perf_counter() - start)
