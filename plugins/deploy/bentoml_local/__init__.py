"""The ``bentoml-local`` deploy target: a bento per agent version, built with BentoML, served on 127.0.0.1.

``build`` makes the version's bento with BentoML's own build (:mod:`.bento`,
the generated service :mod:`.service`); ``deploy`` starts ``bentoml serve`` as
a managed background process (pid and log in the home) and waits until
``/readyz`` passes; ``undeploy`` stops it; ``serve`` runs it in the foreground.
BentoML is imported only in the processes that build or serve.

Written as a third-party plugin would be: it imports only the public names of
``agentgov.core`` and ``agentgov.deploy``.
"""

from __future__ import annotations

from agentgov.core import Register, hookimpl


@hookimpl
def agentgov_register_deploy_targets(register: Register) -> None:
    from agentgov.plugins.deploy.bentoml_local.target import BentomlLocal

    register(BentomlLocal())
