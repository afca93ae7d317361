"""Prefect flows that compose the engines: register, validate and add data, promote, evaluate, monitor drift.

Importing this package opts the process out of Prefect's client telemetry
(``DO_NOT_TRACK``, read once when ``prefect`` is imported) unless the user set
it: a governance tool does not phone home by default, and on a terminal the
first flow would otherwise print Prefect's telemetry notice.
"""

import os

os.environ.setdefault("DO_NOT_TRACK", "1")
