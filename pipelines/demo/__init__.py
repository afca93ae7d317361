"""``agentgov demo``: the whole life of the example agent in one command, on an empty folder.

:func:`run_demo` lays out a project (:mod:`.workspace`), runs every step
through agentgov's own pipelines against one Prefect API (:mod:`.run`,
:mod:`.services`), replays traffic through the real gateway (:mod:`.traffic`)
and narrates through a :class:`Reporter` (:mod:`.report`).
"""

from agentgov.pipelines.demo.report import DemoSummary, Look, Quiet, Reporter, StepResult
from agentgov.pipelines.demo.run import run_demo
from agentgov.pipelines.demo.workspace import DemoError

__all__ = ["DemoError", "DemoSummary", "Look", "Quiet", "Reporter", "StepResult", "run_demo"]
