"""``RiskModelStore``: where trained risk models live, and which one scores.

A model is a skops file named after its version (``rm-<12 hex>.skops``) in ``model_dir``;
``current.json`` names the version the pipeline uses. ``risk_model`` writes both (the file first,
then the pointer, each atomically), so a reader always finds a complete model. Before the first
``risk_model`` run there is no pointer: :meth:`RiskModelStore.current` then trains the default
model from the packaged labels (deterministic, a few seconds), saves it and points at it, so a
fresh checkout scores with the learned model from its first run.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import dagster as dg
from pydantic import Field

from digest_pipeline.defs.risk.labels import load_packaged
from digest_pipeline.defs.risk.model import ModelFileError, RiskModel, load_model, save_model
from digest_pipeline.defs.risk.training import train_risk_model

POINTER = "current.json"
_TRAIN_LOCK = threading.Lock()


@lru_cache(maxsize=4)
def _load_cached(path: str, mtime_ns: int) -> RiskModel:
    return load_model(Path(path))


@lru_cache(maxsize=1)
def default_model() -> RiskModel:
    """The model of the packaged labels, trained once per process."""
    return train_risk_model(load_packaged().rows)


def write_pointer(model_dir: Path, version: str) -> None:
    model_dir.mkdir(parents=True, exist_ok=True)
    tmp = model_dir / f"{POINTER}.{os.getpid()}.{threading.get_ident()}.tmp"
    tmp.write_text(
        json.dumps({"version": version, "set_at": datetime.now(UTC).isoformat()}), "utf-8"
    )
    tmp.replace(model_dir / POINTER)


class RiskModelStore(dg.ConfigurableResource):
    """The folder of trained risk models (``DIGEST_MODEL_DIR``) and the team's label file."""

    model_dir: str = Field(default="data/models", description="Folder of model files")
    labels_path: str | None = Field(
        default=None, description="The team's labeled messages (DIGEST_LABELS_PATH, JSONL or CSV)"
    )
    include_packaged: bool = Field(
        default=True, description="Train on the packaged corpora too (not only the team's labels)"
    )

    @property
    def folder(self) -> Path:
        return Path(self.model_dir)

    def path(self, version: str) -> Path:
        if not version.startswith("rm-") or not version[3:].isalnum():
            raise dg.Failure(f"not a risk model version: {version!r}")
        return self.folder / f"{version}.skops"

    def has(self, version: str) -> bool:
        return self.path(version).is_file()

    def save(self, model: RiskModel, *, make_current: bool = True) -> Path:
        path = self.path(model.version)
        if not path.is_file():
            save_model(model, path)
        if make_current:
            write_pointer(self.folder, model.version)
        return path

    def current_version(self) -> str | None:
        try:
            data = json.loads((self.folder / POINTER).read_text("utf-8"))
        except (OSError, ValueError):
            return None
        version = data.get("version") if isinstance(data, dict) else None
        return version if isinstance(version, str) and self.has(version) else None

    def load(self, version: str) -> RiskModel:
        path = self.path(version)
        try:
            return _load_cached(str(path), path.stat().st_mtime_ns)
        except FileNotFoundError as e:
            raise dg.Failure(f"risk model {version} not found in {self.folder}") from e
        except ModelFileError as e:
            raise dg.Failure(f"risk model {version} cannot be loaded: {e}") from e

    def current(self, log: dg.DagsterLogManager | None = None) -> RiskModel:
        """The model the pipeline scores with (trained from the packaged labels if none yet)."""
        version = self.current_version()
        if version is not None:
            return self.load(version)
        with _TRAIN_LOCK:
            version = self.current_version()
            if version is not None:
                return self.load(version)
            if log is not None:
                log.info(
                    "no risk model in %s yet: training the default model from the packaged labels"
                    " (materialize risk_model to include the team's labels)",
                    self.folder,
                )
            model = default_model()
            self.save(model)
            return model
