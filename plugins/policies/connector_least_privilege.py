"""Policy ``connector-least-privilege``: connectors ask for no more than the stage allows."""

from __future__ import annotations

from fnmatch import fnmatchcase
from types import MappingProxyType

from agentgov.core import PolicyResult, Register, Stage, hookimpl
from agentgov.policies import PolicyContext

ADMIN_ACTIONS = frozenset({"admin", "owner", "superuser", "root", "delete_all"})


def is_wildcard(scope: str) -> bool:
    return "*" in scope


def is_admin(scope: str) -> bool:
    resource, _, action = scope.partition(":")
    return resource == "admin" or action in ADMIN_ACTIONS


class ConnectorLeastPrivilege:
    name = "connector-least-privilege"
    description = "Every connector scope is within the stage's allowed scopes; no wildcard or admin scopes in production."
    stages = frozenset({Stage.SHADOW, Stage.CANARY, Stage.PRODUCTION})
    parameters = MappingProxyType({"allowed_scopes": "scope patterns this stage allows, like ['tickets:read', 'kb:*'] (default: any non-admin scope)"})

    def evaluate(self, context: PolicyContext) -> PolicyResult:
        allowed = context.param("allowed_scopes")
        if allowed is not None and (isinstance(allowed, str) or not all(isinstance(p, str) for p in allowed)):
            return context.result("error", "allowed_scopes must be a list of scope patterns")
        problems: list[str] = []
        count = 0
        for connector in context.manifest.get("connectors", []):
            for scope in connector.get("scopes", []):
                count += 1
                where = f"{connector.get('name')}: {scope}"
                if context.target is Stage.PRODUCTION and is_wildcard(scope):
                    problems.append(f"{where} is a wildcard scope, not allowed in production")
                elif is_admin(scope):
                    problems.append(f"{where} is an admin scope")
                elif allowed is not None and not any(fnmatchcase(scope, pattern) for pattern in allowed):
                    problems.append(f"{where} is not in the scopes {context.target.value} allows ({', '.join(allowed) or 'none'})")
        if problems:
            return context.failed("; ".join(problems), scopes=count)
        return context.passed(f"{count} connector scope(s) within what {context.target.value} allows", scopes=count)


@hookimpl
def agentgov_register_policies(register: Register) -> None:
    register(ConnectorLeastPrivilege())
