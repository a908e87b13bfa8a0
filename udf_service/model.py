"""A model artifact (a folder: model.onnx + metadata.json) served with ONNX Runtime, and the store
that swaps in a new artifact without a restart: the new one is loaded completely first, then the
reference is replaced, so requests in flight finish on the model they started with."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from udf_service.features import FEATURES

log = logging.getLogger("udf_service.model")


class ModelError(Exception):
    pass


@dataclass(frozen=True)
class LoadedModel:
    version: str
    metadata: dict[str, Any]
    session: ort.InferenceSession
    input_name: str
    stamp: tuple[str, float]

    def scores(self, matrix: np.ndarray) -> np.ndarray:
        """Fraud probability per row."""
        outputs = self.session.run(None, {self.input_name: matrix.astype(np.float32, copy=False)})
        probabilities = outputs[-1]
        return np.asarray(probabilities)[:, 1]


def _stamp(path: Path) -> tuple[str, float]:
    resolved = path.resolve()
    return str(resolved), (resolved / "metadata.json").stat().st_mtime


def load(path: Path, serving: bool = True) -> LoadedModel:
    """The artifact at `path`. For serving (the default) it must have been trained on the features
    udf_service.features computes; evaluation of any other artifact passes serving=False."""
    folder = path.resolve()
    try:
        metadata = json.loads((folder / "metadata.json").read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"{folder}: cannot read metadata.json: {exc}") from exc
    if serving and tuple(metadata.get("features", ())) != FEATURES:
        raise ModelError(f"{folder}: the model was trained on other features than udf_service.features computes")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # one core per request path; the service scales by processes
    try:
        session = ort.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - any load failure keeps the old model serving
        raise ModelError(f"{folder}: cannot load model.onnx: {exc}") from exc
    return LoadedModel(str(metadata["version"]), metadata, session, session.get_inputs()[0].name, _stamp(path))


class ModelStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._current: LoadedModel | None = None
        self.last_error: str | None = None

    @property
    def current(self) -> LoadedModel | None:
        return self._current

    def refresh(self) -> bool:
        """Loads the artifact at `path` if it changed (a new folder behind a symlink, or a rewritten
        metadata.json). Returns True when a new model was swapped in; on failure the old one stays."""
        with self._lock:
            try:
                stamp = _stamp(self.path)
            except OSError as exc:
                self.last_error = f"{self.path}: {exc}"
                return False
            if self._current is not None and self._current.stamp == stamp:
                return False
            try:
                loaded = load(self.path)
            except ModelError as exc:
                self.last_error = str(exc)
                log.error("model not swapped: %s", exc)
                return False
            self._current = loaded  # a single reference assignment: the swap
            self.last_error = None
            log.info("serving model %s from %s", loaded.version, stamp[0])
            return True
