"""``python -m agentgov.plugins.deploy.bentoml_local.build_bento REQUEST_JSON``: one bento build, in its own process.

Run by :func:`.bento.build` with ``BENTOML_HOME`` set (BentoML reads it once per
process). Prints one JSON line: the tag, and whether a stored bento was reused.
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    request = json.loads(argv[0])
    import bentoml
    from bentoml.exceptions import NotFound

    try:
        found = bentoml.bentos.get(request["tag"])
    except NotFound:
        found = None
    if found is not None:
        print(json.dumps({"tag": str(found.tag), "reused": True}))
        return 0
    name, _, version = request["tag"].partition(":")
    bento = bentoml.bentos.build(
        request["service"],
        name=name,
        version=version,
        labels=request["labels"],
        description=request["description"],
        include=["service.py", "agentgov-bento.json", "model/**"],
        python={"packages": request["packages"], "lock_packages": False},
        build_ctx=request["context"],
    )
    print(json.dumps({"tag": str(bento.tag), "reused": False}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
