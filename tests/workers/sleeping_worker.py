"""A worker that writes its pid (``spec["pids"]/<rank>``) and sleeps until it is stopped, for the launcher's interrupt test."""

import argparse
import json
import os
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", required=True)
    spec = json.loads(Path(parser.parse_args().spec).read_text())
    (Path(spec["pids"]) / os.environ.get("RANK", "0")).write_text(str(os.getpid()))
    time.sleep(600)


if __name__ == "__main__":
    main()
