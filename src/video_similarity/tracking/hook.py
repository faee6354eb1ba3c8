"""kedro-mlflow's hook, made safe to lose: a store problem is one warning line, never a failed run."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any
from unittest import mock

from kedro.framework.hooks import hook_impl
from kedro_mlflow.config.kedro_mlflow_config import KedroMlflowConfig
from kedro_mlflow.framework.hooks.mlflow_hook import MlflowHook

from video_similarity.config import quiet_resolvers
from video_similarity.tracking import SWITCH, active_run, switched_off
from video_similarity.tracking.store import check_store, first_line, git_commit, is_tracking_error, resolve_store_uri, store_lock

log = logging.getLogger(__name__)


class TrackingHook(MlflowHook):
    """kedro-mlflow's hook (settings.py registers this one in its place): same recording, never a failed run.

    Every step that touches the store is guarded: the first failure logs one
    warning line, stops tracking for the rest of the run (kedro-mlflow's
    datasets then save locally, or not at all for metrics) and the pipeline
    goes on.
    """

    def __init__(self):
        super().__init__()
        self._on = False
        self._catalog = None
        self._project_path = None

    # -- configuration
    @hook_impl
    def after_context_created(self, context) -> None:
        from kedro.config import MissingConfigException

        self._on, self.run_id, self._project_path = False, None, Path(context.project_path)
        active_run.clear()
        if switched_off():
            log.info("Experiment tracking is switched off for this run (%s=%s)", SWITCH, os.environ.get(SWITCH))
            return
        patterns = context.config_loader.config_patterns
        patterns.setdefault("mlflow", ["mlflow*", "mlflow*/**", "**/mlflow*"])
        try:
            conf = dict(context.config_loader["mlflow"])
        except MissingConfigException:
            conf = {}
        server = dict(conf.get("server") or {})
        server["mlflow_tracking_uri"] = resolve_store_uri(server.get("mlflow_tracking_uri"), self._project_path)
        conf["server"] = server
        context.config_loader["mlflow"] = conf
        self._uri, self._context, self._store_open = server["mlflow_tracking_uri"], context, False
        try:
            # the store is opened when a pipeline runs (_open_store): a session that runs none (kedro find-copies,
            # kedro mlflow ui, a notebook) does not pay for it, about 0.75 s
            with quiet_resolvers(), mock.patch.object(KedroMlflowConfig, "setup", lambda config, context: None):
                super().after_context_created(context)
        except Exception as error:  # noqa: BLE001 -- a configuration kedro-mlflow refuses: warn, run untracked
            self._warn("cannot use conf/<env>/mlflow.yml", error)
            return
        self._on = True

    def _open_store(self) -> None:
        """kedro-mlflow's setup (the store, its tables, the experiment), after a quick probe, under the creation lock."""
        if self._store_open or self._already_active_mlflow:
            return
        with store_lock(self._uri):
            check_store(self._uri)
            self.mlflow_config.setup(self._context)
        self._store_open = True

    # -- the run
    @hook_impl
    def after_catalog_created(self, catalog, conf_catalog, conf_creds, parameters, save_version, load_versions) -> None:
        if self._on:
            super().after_catalog_created(catalog, conf_catalog, conf_creds, parameters, save_version, load_versions)

    @hook_impl
    def before_pipeline_run(self, run_params, pipeline, catalog) -> None:
        from kedro_mlflow.io.catalog.switch_catalog_logging import switch_catalog_logging

        self._catalog = catalog
        for name in pipeline.datasets():  # factory datasets too, so that switching logging off reaches them
            with contextlib.suppress(Exception):
                catalog.get(name)
        if not self._on:
            self._is_mlflow_enabled = False
            switch_catalog_logging(catalog, False)
            return
        self._guard_datasets(catalog)
        try:
            self._open_store()
        except Exception as error:  # noqa: BLE001 -- any store problem: warn, run untracked
            self._stop(f"cannot open the store {self._uri}", error)
            return
        self._params_logged: dict[str, str] = {}
        try:
            super().before_pipeline_run(run_params, pipeline, catalog)
            if self.run_id is not None:
                import mlflow

                mlflow.set_tags(git_commit(self._project_path))
                log.info("Tracking this run in %s: experiment %s, run %s", self._uri, self.mlflow_config.tracking.experiment.name, self.run_id)
                active_run.update({"MLFLOW_TRACKING_URI": self.mlflow_config.server.mlflow_tracking_uri, "MLFLOW_RUN_ID": self.run_id})
        except Exception as error:  # noqa: BLE001
            self._stop(f"cannot start a run in {self._uri}", error)

    @hook_impl
    def before_node_run(self, node, catalog, inputs, is_async) -> None:
        if not (self._on and self._is_mlflow_enabled):
            return
        try:
            super().before_node_run(node, catalog, inputs, is_async)
        except Exception as error:  # noqa: BLE001
            self._stop(f"cannot record the parameters of {node.name} in {self._uri}", error)

    def _log_param(self, name: str, value: Any) -> None:
        """Each parameter once per run: kedro-mlflow logs every node's ``params:`` inputs, and most nodes share
        sections (vsc_descriptor: 544 calls for 144 parameters). When two namespaces' nodes give one name
        different values, the first stays."""
        from mlflow.exceptions import MlflowException

        if name in self._params_logged:
            if self._params_logged[name] != str(value):
                log.debug("Parameter %s already recorded with another value; kept the first", name)
            return
        try:
            super()._log_param(name, value)
        except MlflowException as error:  # recorded by an earlier session of this run (tracking.run.id) with another value
            if "Changing param values is not allowed" not in str(error):
                raise
            log.debug("Parameter %s already recorded with another value; kept the first", name)
        self._params_logged[name] = str(value)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node) -> None:
        """A catalog entry whose metadata has ``tracking: {artifact: <folder>}`` goes into the run's artifacts once written.

        (kedro-mlflow's MlflowArtifactDataset wrapper gives a versioned dataset a save
        version of its own, which Kedro 1.x refuses; the metadata keeps the entry's type.)
        """
        if not (self._on and self._is_mlflow_enabled and self.run_id) or self._catalog is None:
            return
        dataset = self._catalog.get(dataset_name)
        folder = ((getattr(dataset, "metadata", None) or {}).get("tracking") or {}).get("artifact")
        path = saved_file(dataset) if folder else None
        if path is None or not path.exists():
            return
        try:
            self.mlflow_config.server._mlflow_client.log_artifact(self.run_id, str(path), artifact_path=str(folder))
        except Exception as error:  # noqa: BLE001
            self._stop(f"cannot record {dataset_name} in {self._uri}", error)

    @hook_impl
    def after_pipeline_run(self, run_params, pipeline, catalog) -> None:
        try:
            if self._on:
                super().after_pipeline_run(run_params, pipeline, catalog)
        except Exception as error:  # noqa: BLE001
            self._stop(f"cannot close the run in {self._uri}", error)
        finally:
            self._leave_run()

    @hook_impl
    def on_pipeline_error(self, error, run_params, pipeline, catalog) -> None:
        try:
            if self._on and self._is_mlflow_enabled and self.run_id is not None:
                super().on_pipeline_error(error, run_params, pipeline, catalog)
        except Exception as tracking_error:  # noqa: BLE001 -- the pipeline's own error is what the user must see
            log.warning("Experiment tracking: could not mark the run failed (%s)", first_line(tracking_error))
        finally:
            self._leave_run("FAILED")

    def _leave_run(self, status: str = "FINISHED") -> None:
        """Take this run off MLflow's stack of active runs entirely.

        kedro-mlflow re-enters the run before every node (``start_run(run_id, nested=True)``),
        which MLflow 3 stacks; ending it once leaves it active in this process, and the
        next session in the same process (a notebook, the tests) would log into it.
        """
        active_run.clear()
        if self.run_id is None or getattr(self, "_already_active_mlflow", False):
            return
        with contextlib.suppress(Exception):
            import mlflow

            while mlflow.active_run() is not None and mlflow.active_run().info.run_id == self.run_id:
                mlflow.end_run(status)

    # -- failures
    def _guard_datasets(self, catalog) -> None:
        """A kedro-mlflow dataset whose logging fails warns and stops tracking; its local file (if any) is still written."""
        for name, dataset in catalog.items():
            if not type(dataset).__name__.startswith("Mlflow") or getattr(dataset.save, "tracking_guard", False):
                continue
            dataset.save = self._guarded(name, dataset.save)

    def _guarded(self, name: str, save):
        def guarded(data):
            try:
                return save(data)
            except Exception as error:
                if not is_tracking_error(error):
                    raise
                self._stop(f"cannot record {name} in {self._uri}", error)

        guarded.tracking_guard = True
        return guarded

    def _warn(self, what: str, error: BaseException) -> None:
        log.warning("Experiment tracking is off for the rest of this run: %s (%s)", what, first_line(error))

    def _stop(self, what: str, error: BaseException) -> None:
        from kedro_mlflow.io.catalog.switch_catalog_logging import switch_catalog_logging

        self._warn(what, error)
        self._on, self._is_mlflow_enabled = False, False
        active_run.clear()
        if self._catalog is not None:
            switch_catalog_logging(self._catalog, False)
        self._leave_run("KILLED")  # the pipeline goes on; its record stops here
        self.run_id = None


def saved_file(dataset) -> Path | None:
    """The local file a dataset has just written: this run's version of a versioned one."""
    if getattr(dataset, "_version", None) is not None and hasattr(dataset, "_get_versioned_path"):
        return Path(str(dataset._get_versioned_path(dataset.resolve_save_version())))
    path = getattr(dataset, "_filepath", None)
    return Path(str(path)) if path is not None else None
