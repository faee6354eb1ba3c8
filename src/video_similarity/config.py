"""The project's config loader: a real dataset root gets a data folder of its own.

Every artifact path is ``data/<layer>/${globals:dataset}/...``. An env for real
data names the runtime parameter that holds its root (``dataset_per_root:
vsc_root``); the loader then makes ``dataset`` ``<dataset>-<root folder name>-<8
hex of the root's path>``, so two roots whose video ids repeat (every VSC root
has ``Q100001``) never share archives, embeddings or models. Without that
parameter, or with ``dataset_per_root: null`` (conf/local/globals.yml), the
name stays as written. (Kedro refuses ``runtime_params:`` inside globals.yml.)
"""

from __future__ import annotations

import hashlib
import os
import warnings
from contextlib import contextmanager
from pathlib import Path

from kedro.config import OmegaConfigLoader


def dataset_name(dataset: str, root: str | os.PathLike) -> str:
    """``<dataset>-<root's folder name>-<8 hex of its absolute path>``."""
    path = str(Path(root).expanduser().absolute())
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in (Path(path).name or "root"))
    return f"{dataset}-{name}-{hashlib.sha256(path.encode()).hexdigest()[:8]}"


@contextmanager
def quiet_resolvers():
    """Kedro's loader registers its resolvers with an OmegaConf call that warns of its own deprecation on every run;
    nothing a user of this project can change, so it is not shown."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"register_new_resolver\(\) is deprecated", category=UserWarning)
        yield


class ProjectConfigLoader(OmegaConfigLoader):
    """OmegaConfigLoader whose ``globals.dataset`` follows the dataset root given at run time."""

    def __init__(self, *args, **kwargs):
        with quiet_resolvers():
            super().__init__(*args, **kwargs)
        values = dict(self._globals or {})
        key = values.get("dataset_per_root")
        root = (self.runtime_params or {}).get(key) if key else None
        if root:
            values["dataset"] = dataset_name(str(values.get("dataset", "data")), root)
            self["globals"] = values  # also what the ${globals:...} resolver reads ...
            self._globals_oc = None  # ... from this cache, rebuilt on first use

    def __getitem__(self, key: str):
        with quiet_resolvers():
            return super().__getitem__(key)
