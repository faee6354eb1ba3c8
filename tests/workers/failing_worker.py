"""A worker that fails on one rank (``spec["rank"]``, default 1) for the launcher tests."""

import os

from torch.distributed.elastic.multiprocessing.errors import record

from video_similarity.workers.common import read_spec


@record
def main() -> None:
    spec = read_spec()
    if int(os.environ["RANK"]) == int(spec.get("rank", 1)):
        raise RuntimeError(spec["message"])


if __name__ == "__main__":
    main()
