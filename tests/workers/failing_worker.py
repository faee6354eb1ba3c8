"""A worker that fails on one rank (``spec["rank"]``, default 1) for the launcher tests."""

import argparse
import json
import os
from pathlib import Path

from torch.distributed.elastic.multiprocessing.errors import record


@record
def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", required=True)
    spec = json.loads(Path(parser.parse_args().spec).read_text())
    if int(os.environ["RANK"]) == int(spec.get("rank", 1)):
        raise RuntimeError(spec["message"])


if __name__ == "__main__":
    main()
