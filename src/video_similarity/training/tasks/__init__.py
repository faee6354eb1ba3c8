"""One module per training task: its job (a frozen dataclass), its data, its loss, its export and report.

Each module has ``<Name>Job`` (``WORKER`` is the training entry) and
``run(job, context)``; ``workers/train.py`` runs the module of the job it reads.
"""

#: The training entry every task's job names as its worker.
TRAIN_WORKER = "video_similarity.workers.train"
