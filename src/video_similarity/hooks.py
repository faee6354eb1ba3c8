"""Project hooks: a failing stage still leaves its report."""

from __future__ import annotations

import logging

from kedro.framework.hooks import hook_impl

log = logging.getLogger(__name__)


class SaveReportOnFailure:
    """When a node fails with an error that carries a ``report``, save it to the node's ``*_report`` output.

    Without this, a stage that rejects everything (an ingest whose every row is
    bad) would raise before returning, and the previous run's report would stay
    in place, describing other data.
    """

    @hook_impl
    def on_node_error(self, error: Exception, node, catalog, inputs, is_async, run_id) -> None:
        report = getattr(error, "report", None)
        if report is None:
            return
        for name in node.outputs:
            if name.endswith("_report"):
                try:
                    catalog.save(name, report)
                    log.info("The failed node %s saved its report to %s", node.name, name)
                except Exception as save_error:  # the original error matters more
                    log.warning("Could not save %s after %s failed: %s", name, node.name, save_error)


class RequireUpstreamOutputs:
    """Before a run, every input that another stage makes must exist: otherwise one line says which stage to run first.

    (Kedro would fail on the first load with a dataset error and a traceback,
    possibly after earlier nodes have run for nothing.)
    """

    @hook_impl
    def before_pipeline_run(self, run_params, pipeline, catalog) -> None:
        from kedro.framework.project import pipelines

        from video_similarity.errors import UserError

        makers: dict[str, str] = {}
        for name in sorted(pipelines):
            if name in ("__default__", "vsc_descriptor"):
                continue
            for output in pipelines[name].all_outputs():
                makers.setdefault(output, name)
        missing = [d for d in sorted(pipeline.inputs()) if d in makers and not catalog.exists(d)]
        if missing:
            first = makers[missing[0]]
            raise UserError(
                f"{', '.join(missing)} {'does' if len(missing) == 1 else 'do'} not exist yet: "
                f"run `kedro run --pipeline={first}` first (with the same --env and --params)"
            )


class RemoveStaleTemporaries:
    """Before a run, the temporaries that a killed run's atomic writes left in this dataset's folders are deleted.

    Only ``data/<layer>/<dataset>/``: a run on another dataset root (its own
    folders, see ``config.py``) may be writing elsewhere at the same time; and
    only those untouched for a minute: the copy commands (docs/find_copies.md)
    may be writing into the same folders.
    """

    MIN_AGE = 60.0

    def __init__(self) -> None:
        self.dataset: str | None = None

    @hook_impl
    def after_context_created(self, context) -> None:
        try:
            self.dataset = context.config_loader["globals"].get("dataset")
        except Exception:  # no globals: nothing to scope by  # noqa: BLE001
            self.dataset = None

    @hook_impl
    def before_pipeline_run(self, run_params, pipeline, catalog) -> None:
        from pathlib import Path

        from video_similarity.atomic import remove_stale_temporaries

        data = Path(run_params.get("project_path") or ".") / "data"
        if not self.dataset or not data.is_dir():
            return
        for layer in sorted(p for p in data.iterdir() if p.is_dir()):
            if (layer / self.dataset).is_dir():
                remove_stale_temporaries(layer / self.dataset, min_age=self.MIN_AGE)
