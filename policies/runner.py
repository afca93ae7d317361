"""Running one policy so that whatever it does, the gate gets a verdict.

Raising (``sys.exit`` included), running past the time limit, returning
something that is not a :class:`PolicyResult`, or answering for another policy
all become ``error`` results naming the plugin: the gate fails closed.

Where a policy runs (``isolation`` in ``agentgov.toml``):

``thread`` (the default)
    A daemon thread of the gate's process, with the policy's own read-only
    context. Its completion time is taken on a monotonic clock: an answer that
    arrives after the deadline is an error, even when the policy held the
    interpreter (a catastrophic regular expression) so that the gate could not
    look at the clock in time. A thread that hangs cannot be killed; being a
    daemon, it does not keep the command from exiting.
``process``
    A process forked for the policy. It reads evidence by asking the gate over
    a pipe (so each piece is still read once per gate run), and sends back its
    verdict as JSON, which the gate validates; nothing else comes back, and
    nothing the policy does in its process reaches the gate's. At the deadline
    the process is killed; a crash, ``os._exit`` or a kill is an error naming
    the plugin. Its standard output goes to standard error, so it cannot mix
    with agentgov's own output. POSIX only (it needs ``fork``).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

from agentgov.core.errors import AgentgovError
from agentgov.core.plugins import Registered
from agentgov.core.text import short_repr as _short
from agentgov.core.types import PolicyResult, PolicyStatus
from agentgov.policies.context import Evidence, EvidenceReads, GateRequest, PolicyContext, PolicyEvidence, from_plain
from agentgov.policies.protocol import Policy
from agentgov.policies.settings import PROCESS, ConfiguredPolicy

MAX_MESSAGE = 4 * 1024 * 1024  # bytes: an isolated policy's verdict, or its request for evidence


@dataclass(frozen=True)
class _Answer:
    """What came back from a policy: a value, a description of what went wrong, and when."""

    value: Any = None
    problem: str | None = None  # the error's reason, without the plugin
    finished: float | None = None  # time.monotonic() when evaluate returned or raised


def run_policy(
    configured: ConfiguredPolicy, registered: Registered[Policy] | None, request: GateRequest, evidence: Evidence | EvidenceReads
) -> PolicyResult:
    """Run one policy and return its verdict, stamped with its mode, plugin and seconds.

    ``evidence`` is the gate run's :class:`EvidenceReads` (shared by its
    policies), or any :class:`Evidence`, read for this policy alone.
    """
    if registered is None:
        return PolicyResult(
            configured.name,
            PolicyStatus.ERROR,
            f"no loaded plugin provides policy {configured.name!r}; install its plugin, "
            "or check plugins.block / $AGENTGOV_PLUGINS_BLOCK (`agentgov plugins list`)",
            mode=configured.mode,
        )
    reads = evidence if isinstance(evidence, EvidenceReads) else EvidenceReads(evidence)
    started = time.monotonic()
    if configured.isolation == PROCESS:
        answer = _in_process(configured, registered, request, reads, started)
    else:
        answer = _in_thread(configured, registered, request, reads)
    finished = answer.finished if answer.finished is not None else time.monotonic()
    seconds = round(max(finished - started, 0.0), 6)

    def error(reason: str) -> PolicyResult:
        return PolicyResult(configured.name, PolicyStatus.ERROR, f"{reason} (plugin {registered.plugin})", mode=configured.mode, plugin=registered.plugin, seconds=seconds)

    if answer.problem is not None:
        return error(answer.problem)
    if finished - started > configured.timeout_s:
        return error(f"ran past its time limit of {configured.timeout_s:g} s: it answered after {finished - started:.1f} s, too late to count")
    value = answer.value
    if not isinstance(value, PolicyResult):
        return error(f"returned {type(value).__name__} {_short(value)}, not a PolicyResult")
    if value.policy != configured.name:
        return error(f"answered for policy {value.policy!r} instead of {configured.name!r}")
    return replace(value, mode=configured.mode, plugin=registered.plugin, seconds=seconds)


def _in_thread(configured: ConfiguredPolicy, registered: Registered[Policy], request: GateRequest, reads: EvidenceReads) -> _Answer:
    context = PolicyContext(configured.name, configured.params, request, reads.view())
    answers: list[_Answer] = []

    def call() -> None:
        try:
            value = _copy(registered.item.evaluate(context))
        except BaseException as exc:  # a policy's failure is a verdict, not a crash
            answers.append(_Answer(problem=_raised(exc), finished=time.monotonic()))
        else:
            answers.append(_Answer(value, finished=time.monotonic()))

    worker = threading.Thread(target=call, name=f"policy {configured.name}", daemon=True)
    worker.start()
    worker.join(configured.timeout_s)
    if worker.is_alive() or not answers:
        return _Answer(problem=f"did not answer within its time limit of {configured.timeout_s:g} s")
    return answers[0]


def _copy(value: Any) -> Any:
    """The gate's own copy of a returned result, taken when it returns: what the policy does to its object later does not count."""
    if isinstance(value, PolicyResult):
        return PolicyResult.from_dict(json.loads(json.dumps(value.to_dict())))
    return value


def _raised(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"called sys.exit({exc.code!r})" if exc.code is not None else "called sys.exit()"
    if isinstance(exc, AgentgovError):
        return str(exc)
    return f"raised {type(exc).__name__}: {exc}"


# -- isolation = "process" -------------------------------------------------------------------------


def _in_process(configured: ConfiguredPolicy, registered: Registered[Policy], request: GateRequest, reads: EvidenceReads, started: float) -> _Answer:
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        return _Answer(problem=f'isolation = "process" needs fork, which {sys.platform} does not have')
    deadline = started + configured.timeout_s
    fork = multiprocessing.get_context("fork")
    gate_end, policy_end = fork.Pipe(duplex=True)
    process = fork.Process(
        target=_child, args=(policy_end, registered.item, configured.name, configured.params, request.to_json()), name=f"policy {configured.name}", daemon=True
    )
    process.start()
    policy_end.close()
    try:
        return _serve(gate_end, process, reads, deadline, configured.timeout_s)
    finally:
        gate_end.close()
        if process.is_alive():
            process.kill()
        process.join(5)


def _serve(connection: Any, process: Any, reads: EvidenceReads, deadline: float, timeout_s: float) -> _Answer:
    """Answer the policy's reads until its verdict arrives, it ends, or the deadline passes."""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not connection.poll(remaining):
            process.kill()
            return _Answer(problem=f"did not answer within its time limit of {timeout_s:g} s; its process was killed")
        try:
            message = json.loads(connection.recv_bytes(MAX_MESSAGE))
        except (EOFError, ConnectionError):
            return _Answer(problem=_ended(process, deadline))
        except OSError:  # longer than MAX_MESSAGE
            return _Answer(problem=f"sent a message longer than {MAX_MESSAGE // 1024 // 1024} MiB")
        except ValueError:
            return _Answer(problem="sent a message that is not JSON")
        finished = time.monotonic()
        kind = message.get("kind") if isinstance(message, dict) else None
        if kind == "read":
            reply = _read(reads, message.get("what"), deadline)
            if reply is None:
                process.kill()
                return _Answer(problem=f"did not answer within its time limit of {timeout_s:g} s (the evidence it asked for was still being read); its process was killed")
            connection.send_bytes(json.dumps(reply).encode())
        elif kind == "result":
            try:
                return _Answer(PolicyResult.from_dict(message["result"]), finished=finished)
            except (AgentgovError, KeyError, TypeError, ValueError) as exc:
                return _Answer(problem=f"returned an invalid PolicyResult: {exc}")
        elif kind in ("raised", "returned") and isinstance(message.get("what"), str):
            return _Answer(problem=message["what"], finished=finished)
        else:
            return _Answer(problem=f"sent a message the gate does not read: {_short(message)}")


def _read(reads: EvidenceReads, what: Any, deadline: float) -> dict[str, str] | None:
    """The evidence an isolated policy asked for, read in a thread of the gate's (``None``: not by the deadline).

    The gate's own thread only waits, so a registry that does not answer holds
    up this policy until its deadline, never the gate.
    """
    reply: list[dict[str, str]] = []

    def read() -> None:
        try:
            reply.append({"text": reads.text(str(what))})
        except BaseException as exc:
            reply.append({"raised": _raised(exc)})

    reader = threading.Thread(target=read, name=f"evidence {what}", daemon=True)
    reader.start()
    reader.join(max(deadline - time.monotonic(), 0.0))
    return reply[0] if reply else None


def _ended(process: Any, deadline: float) -> str:
    process.join(max(0.0, min(deadline - time.monotonic(), 5.0)))
    code = process.exitcode
    if code is None:
        return "closed its connection to the gate without answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return f"its process was killed by signal {name} before answering"
    return f"its process ended with exit status {code} before answering"


class _Unavailable(AgentgovError):
    """Evidence the gate could not read for an isolated policy (the gate's message, as is)."""


def _child(connection: Any, policy: Policy, name: str, params: Any, request: str) -> None:
    """The policy's process: evaluate once, send the verdict as JSON, exit."""
    os.dup2(2, 1)  # its output goes to stderr: agentgov's stdout stays agentgov's
    sys.stdout = sys.stderr

    def read(what: str) -> Any:
        connection.send_bytes(json.dumps({"kind": "read", "what": what}).encode())
        reply = json.loads(connection.recv_bytes())
        if "raised" in reply:
            raise _Unavailable(reply["raised"])
        return from_plain(what, json.loads(reply["text"]))

    def no_agent() -> Any:
        raise _Unavailable(
            'load_agent() is not available to a policy run with isolation = "process": '
            "the agent would have to be loaded in the policy's process; run this policy in a thread"
        )

    try:
        context = PolicyContext(name, params, GateRequest.from_json(request), PolicyEvidence(read, no_agent))
        value = policy.evaluate(context)
        if isinstance(value, PolicyResult):
            message = {"kind": "result", "result": value.to_dict()}
        else:
            message = {"kind": "returned", "what": f"returned {type(value).__name__} {_short(value)}, not a PolicyResult"}
    except BaseException as exc:
        message = {"kind": "raised", "what": _raised(exc)}
    connection.send_bytes(json.dumps(message, default=str).encode())
    connection.close()


