"""Policy ``no-pii-in-outputs``: the agent's responses contain no personal data."""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType
from typing import Any

from agentgov.core import PolicyResult, Stage
from agentgov.policies import PolicyContext
from agentgov_pii_policy.detect import KINDS, find_pii, strings

# Evidence lines kept in the decision; the reason and the metrics count them all.
MAX_EVIDENCE = 25


class NoPiiInOutputs:
    name = "no-pii-in-outputs"
    description = "Runs the registered agent on sample requests; fails if a response contains e-mail addresses, phone numbers, card numbers or IBANs."
    stages = frozenset({Stage.SHADOW, Stage.CANARY, Stage.PRODUCTION})
    parameters = MappingProxyType({
        "requests": "JSON Lines file of requests, relative to the working directory (default: the manifest's example_request)",
        "allow": f"kinds of data to ignore, from {', '.join(KINDS)} (default: none)",
    })
    # Off unless agentgov.toml configures it: it runs the agent, which a gate should only do when asked.
    enabled_by_default = False

    def evaluate(self, context: PolicyContext) -> PolicyResult:
        allow = context.param("allow", [])
        if not isinstance(allow, list | tuple) or not all(kind in KINDS for kind in allow):
            return context.result("error", f"allow must be a list of kinds from {', '.join(KINDS)}, got {allow!r}")
        requests = _requests(context)
        if isinstance(requests, PolicyResult):
            return requests
        agent = context.load_agent()
        evidence: list[str] = []
        kinds: set[str] = set()
        for where, request in requests:
            try:
                response = agent.act(request)
            except Exception as exc:  # a response we cannot see is a response we cannot clear
                return context.result("error", f"the agent raised on {where}: {type(exc).__name__}: {exc}", requests=len(requests))
            for path, text in strings(response):
                for found in find_pii(text, allow):
                    kinds.add(found.label)
                    evidence.append(f"{where}: {found.label} in {path} ({found.masked})")
        checked = f"{len(requests)} request(s)"
        if evidence:
            shown = evidence[:MAX_EVIDENCE]
            if len(evidence) > MAX_EVIDENCE:
                shown.append(f"... and {len(evidence) - MAX_EVIDENCE} more")
            return context.failed(
                f"{len(evidence)} piece(s) of personal data ({', '.join(sorted(kinds))}) in the responses to {checked}",
                evidence=shown, requests=len(requests), findings=len(evidence),
            )
        return context.passed(f"no personal data in the responses to {checked}", requests=len(requests), findings=0)


def _requests(context: PolicyContext) -> list[tuple[str, dict[str, Any]]] | PolicyResult:
    """(where, request) pairs: ``requests.jsonl line 3`` or ``example_request``."""
    name = context.param("requests")
    if name is None:
        example = context.manifest.get("example_request")
        if not isinstance(example, dict):
            return context.no_evidence("no requests to run the agent on", "set requests = 'path.jsonl' or add example_request to agent.yaml")
        return [("example_request", example)]
    if not isinstance(name, str):
        return context.result("error", f"requests must be the path of a JSON Lines file, got {name!r}")
    path = Path(name)
    if not path.is_file():
        return context.result("error", f"requests file {name} not found (relative to {Path.cwd()})")
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except json.JSONDecodeError as exc:
            return context.result("error", f"{name} line {number} is not JSON: {exc.msg}")
        if not isinstance(request, dict):
            return context.result("error", f"{name} line {number} is not a JSON object")
        found.append((f"{name} line {number}", request))
    if not found:
        return context.result("error", f"{name} holds no requests")
    return found
