"""Approvals: a person's sign-off on moving one version to one stage.

The audit log is the record (``event.approved``); a JSON tag on the version
mirrors each approval so the MLflow UI shows it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING

from agentgov.core.errors import AgentgovError
from agentgov.core.types import AgentRef, Approval, Event, EventKind, Stage, utcnow

if TYPE_CHECKING:
    from agentgov.core.audit import AuditLog
    from agentgov.core.config import Config
    from agentgov.core.plugins import PluginManager

APPROVED = f"event.{EventKind.APPROVED.value}"


class ApprovalRefused(AgentgovError):
    """An approval that could never count."""


def approve(
    config: Config,
    ref: AgentRef,
    stage: Stage,
    *,
    approver: str,
    comment: str = "",
    ttl: timedelta | None = None,
    audit: AuditLog,
    plugins: PluginManager,
) -> Approval:
    """Record ``approver``'s approval of ``ref`` for ``stage``, in the audit log and on the version."""
    from agentgov.core.events import publish
    from agentgov.registry.backend import connect
    from agentgov.registry.model import TAG_APPROVAL
    from agentgov.registry.store import get, mlflow_errors

    client = connect(config)
    version = get(client, ref)
    if stage is Stage.CANDIDATE:
        raise ApprovalRefused("approve a move to shadow, canary, production or archived, not to candidate")
    registrant = version.lineage.get("registered_by")
    if registrant and registrant == approver:
        raise ApprovalRefused(
            f"{approver} registered {ref}; an approval must come from someone else",
            hint="ask another owner to run `agentgov approve`",
        )
    now = utcnow()
    # The comment goes into an MLflow tag as well as the audit log: masked alike.
    approval = Approval(ref, stage, approver, audit.masker.text(comment), at=now, expires_at=now + ttl if ttl else None)
    publish(Event(EventKind.APPROVED, ref, approver, approval.to_dict()), audit=audit, plugins=plugins)
    with mlflow_errors(f"tagging the approval on {ref}"):
        client.set_model_version_tag(ref.name, str(ref.version), f"{TAG_APPROVAL}{stage.value}.{approver}", json.dumps(approval.to_dict()))
    return approval


def approvals_for(audit: AuditLog, ref: AgentRef, stage: Stage | None = None) -> Iterator[Approval]:
    """Every approval recorded for ``ref`` (for ``stage``), oldest first, from the audit log."""
    for record in audit.records(subject_prefix=ref.name):
        if record.action != APPROVED or record.subject != str(ref):
            continue
        approval = Approval.from_dict(record.payload["payload"])
        if stage is None or approval.stage is stage:
            yield approval
