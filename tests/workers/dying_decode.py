"""The decoding worker whose rank 1 is killed (SIGKILL, with its decoding processes) once it has archived its first
video: a host lost mid-run. Imports inside ``main``, as in the worker: the pool's processes import ``__main__`` again."""

import os
import signal


def _die() -> None:
    """torchrun starts each rank in a session of its own: its group is the rank and its pool, nothing else."""
    if os.getpgid(0) == os.getpid():
        os.killpg(os.getpid(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    from video_similarity.frames import preprocess_job
    from video_similarity.workers import decode

    if os.environ.get("RANK") == "1":
        rows = preprocess_job.decode

        def dying(*args, **kwargs):
            for row in rows(*args, **kwargs):
                yield row  # archived, and its row written before the next one is asked for
                _die()

        preprocess_job.decode = dying
    decode.main()


if __name__ == "__main__":
    main()
