"""Promote one version, to be killed at a crash point (see test_stage_crash.py).

Usage: python crash_worker.py NAME VERSION STAGE   (with AGENTGOV_PAUSE_AT and AGENTGOV_PAUSE_FILE set)
"""

import sys

from agentgov.core.config import load_config
from agentgov.core.home import Home
from agentgov.core.plugins import load_plugins
from agentgov.core.types import AgentRef, Stage
from agentgov.pipelines.promotion import promote

name, version, stage = sys.argv[1], int(sys.argv[2]), Stage.parse(sys.argv[3])
config = load_config()
plugins = load_plugins(config, entrypoints=False)
promote(config, AgentRef(name, version=version), stage, actor="crasher", audit=Home(config.home).audit_log, plugins=plugins)
print("PROMOTED")
