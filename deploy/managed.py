"""A served version as a managed background process: started detached on loopback, recorded in the home, stopped by pid.

Library-neutral: a deploy target hands over the command that serves its
artifact; this module starts it, waits until it answers ``ready_path``, and
keeps the record (:mod:`agentgov.deploy.records`) that ``undeploy`` reads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from agentgov.deploy import process, records
from agentgov.deploy.protocol import Deployment, DeployRequest, UndeployRequest


def _deployment(record: records.ProcessRecord, status: str, note: str = "") -> Deployment:
    return Deployment(
        target=record.target,
        name=record.name,
        version=record.version,
        artifact=record.artifact,
        status=status,
        url=record.url,
        pid=record.pid,
        log=Path(record.log),
        note=note,
    )


def start(
    request: DeployRequest,
    *,
    target: str,
    argv: Sequence[str],
    env: Mapping[str, str],
    port: int,
    ready_path: str = "/readyz",
    timeout: float = 180,
    failed: Callable[[str], str | None] | None = None,
) -> Deployment:
    """Start ``argv`` (which must listen on 127.0.0.1:``port``) unless this artifact already runs; wait until ready.

    A running deployment of another version or artifact is stopped first; a
    stale record (its process gone, or its pid reused) is replaced. With the
    ``alongside`` option the version is served beside the main deployment
    instead (a rollout's canary or shadow): only an earlier process of the same
    version alongside is replaced, and a main deployment already serving this
    artifact is used as it is. If the new
    process ends or is not ready within ``timeout``, it is stopped, its record
    removed, and :class:`~agentgov.deploy.process.ProcessFailed` names its log.
    ``failed(url)`` may say why a starting server will never be ready.
    """
    say = request.progress or (lambda _: None)
    home, name = request.home, request.name
    slot = request.version if request.options.get("alongside") else None
    notes = []
    if slot is not None:
        main = records.read(home, name, target)
        if main is not None and main.running and main.artifact == request.artifact.tag and main.version == slot:
            return _deployment(main, "running", "already running as the main deployment")
    current = records.read(home, name, target, slot)
    if current is not None:
        if current.running and current.artifact == request.artifact.tag and current.version == request.version:
            return _deployment(current, "running", "already running")
        if current.running:
            say(f"stopping {name}/{current.version} (pid {current.pid}) first")
            process.stop(current.pid, current.started)
            notes.append(f"replaced {name}/{current.version} (pid {current.pid})")
        else:
            notes.append(f"a stale record (pid {current.pid}, no longer running) was replaced")
        records.remove(home, name, target, slot)
    log = records.log_path(home, name, target, slot)
    url = f"http://127.0.0.1:{port}"
    child = process.spawn(argv, env, log)
    record = records.ProcessRecord(
        target=target,
        name=name,
        version=request.version,
        artifact=request.artifact.tag,
        pid=child.pid,
        started=process.start_time(child.pid),
        port=port,
        url=url,
        log=str(log),
        deployed_at=records.now(),
    )
    records.write(home, record, alongside=slot is not None)
    say(f"started pid {child.pid}, log {log}; waiting for {url}{ready_path}")

    def running() -> bool:
        if child.poll() is not None:
            return False
        if failed is not None:
            why = failed(url)
            if why:
                raise process.ProcessFailed(f"{name}/{request.version} will not be ready: {why} (log: {log})")
        return True

    try:
        waited = process.wait_until_ready(
            url + ready_path,
            running=running,
            timeout=timeout,
            log=log,
            what=f"{name}/{request.version} (pid {child.pid})",
            progress=say,
        )
    except BaseException:
        process.stop(child.pid, record.started, timeout=10)
        child.poll()
        records.remove(home, name, target, slot)
        raise
    notes.append(f"ready in {waited:.1f} s")
    return _deployment(record, "running", "; ".join(notes))


def stop(request: UndeployRequest, *, target: str) -> Deployment | None:
    """Stop what the records name and remove them; None when there is none. A stale record is removed and said so.

    Every process of the agent on ``target`` (the main deployment and the versions alongside it), or with the
    ``version`` option only those serving that version. The first one stopped is returned, the others in its note.
    """
    say = request.progress or (lambda _: None)
    home, name = request.home, request.name
    wanted = request.options.get("version")
    found = [(None, records.read(home, name, target))] + [
        (r.version, r) for r in records.served_alongside(home, name, target)
    ]
    chosen = [(slot, r) for slot, r in found if r is not None and (wanted is None or r.version == int(wanted))]
    if not chosen:
        return None
    notes = []
    for slot, current in chosen:
        if current.running:
            say(f"stopping {name}/{current.version} (pid {current.pid})")
            process.stop(current.pid, current.started)
            note = f"stopped {name}/{current.version} (pid {current.pid})"
        else:
            note = f"{name}/{current.version} was not running (stale pid {current.pid}); its record was removed"
        records.remove(home, name, target, slot)
        notes.append(note)
    return _deployment(chosen[0][1], "stopped", "; ".join(notes))


def status(home_record: records.ProcessRecord) -> Deployment:
    """What a record says now: ``running``, or ``stale`` when its process is gone."""
    return _deployment(home_record, "running" if home_record.running else "stale")
