"""One of several processes promoting to production at the same moment (see test_concurrency.py).

Usage: python promote_worker.py NAME VERSION BARRIER_DIR WORKERS
Exit 0: promoted; 3: conflict; anything else: a failure.
"""

import sys
import time
from pathlib import Path

from agentgov.core.config import load_config
from agentgov.core.errors import AgentgovError
from agentgov.core.home import Home
from agentgov.core.plugins import load_plugins
from agentgov.core.types import AgentRef, Stage
from agentgov.pipelines.promotion import finish, prepare
from agentgov.registry.errors import Conflict

name, version, barrier, workers = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
config = load_config()
audit = Home(config.home).audit_log
plugins = load_plugins(config, entrypoints=False)
prepared = prepare(config, AgentRef(name, version=version), Stage.PRODUCTION, actor=f"worker-{version}", audit=audit, plugins=plugins)
(barrier / str(version)).touch()
deadline = time.monotonic() + 180
while len(list(barrier.iterdir())) < workers:  # everyone has decided: now all apply at once
    if time.monotonic() > deadline:
        sys.exit("barrier timed out")
    time.sleep(0.01)
try:
    finish(prepared, audit=audit, plugins=plugins)
except Conflict as exc:
    print(f"CONFLICT {exc}")
    sys.exit(3)
except AgentgovError as exc:
    print(f"ERROR {exc}")
    sys.exit(1)
print("PROMOTED")
