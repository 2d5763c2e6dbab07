"""`python -m petri.daemon RUN_DIR`: the daemon process of one run, as `petri start` launches
it (detached, its output going to RUN/daemon.log). An expected failure ends in one line
`error: ...`, which `petri start` reads back from the log and shows."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

from petri.errors import PetriError


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m petri.daemon RUN_DIR", file=sys.stderr)
        return 2
    from petri.daemon.daemon import Daemon

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("petri").setLevel(logging.INFO)
    try:
        return Daemon(Path(argv[0])).run()
    except PetriError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
