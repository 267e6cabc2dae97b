"""One code path over LiteRT (``ai-edge-litert``) and its predecessor ``tflite-runtime``.

Whichever is installed is used; LiteRT first. Without either, ``load_interpreter`` raises
``ModelError`` naming both packages. Only the ``Interpreter`` API both packages share is used.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from edge.errors import EdgeError

RUNTIMES = ("ai_edge_litert.interpreter", "tflite_runtime.interpreter")
PACKAGES = {"ai_edge_litert.interpreter": "ai-edge-litert", "tflite_runtime.interpreter": "tflite-runtime"}


class ModelError(EdgeError):
    """A model cannot be used: no runtime, a missing or corrupt file, a manifest mismatch."""


class _Interpreter(Protocol):
    def allocate_tensors(self) -> None: ...
    def get_input_details(self) -> list[dict[str, Any]]: ...
    def get_output_details(self) -> list[dict[str, Any]]: ...
    def resize_tensor_input(self, index: int, shape: list[int], strict: bool = ...) -> None: ...
    def set_tensor(self, index: int, value: npt.NDArray[Any]) -> None: ...
    def invoke(self) -> None: ...
    def get_tensor(self, index: int) -> npt.NDArray[Any]: ...
    def tensor(self, index: int) -> Any: ...


@dataclass(frozen=True, slots=True)
class Runtime:
    name: str
    """The package in use, e.g. ``ai-edge-litert``."""
    version: str


def find_runtime() -> tuple[Runtime, Any]:
    """The first importable runtime and its ``Interpreter`` class."""
    errors = []
    for module_name in RUNTIMES:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            errors.append(f"{PACKAGES[module_name]}: {exc}")
            continue
        package = importlib.import_module(module_name.split(".")[0])
        version = str(getattr(package, "__version__", "unknown"))
        return Runtime(PACKAGES[module_name], version), module.Interpreter
    raise ModelError(
        "no TFLite runtime installed: install 'ai-edge-litert' (pip install ai-edge-litert) "
        "or 'tflite-runtime'; tried " + "; ".join(errors)
    )


class TFLiteModel:
    """A loaded model with one float input and one float output. Not thread-safe: one per thread."""

    def __init__(self, content: bytes, *, threads: int, name: str) -> None:
        self.runtime, interpreter_cls = find_runtime()
        self.name = name
        try:
            self._interp: _Interpreter = interpreter_cls(model_content=content, num_threads=threads)
            self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{name}: the runtime rejects the model: {exc}") from exc
        inputs, outputs = self._interp.get_input_details(), self._interp.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(
                f"{name}: expected one input and one output, got {len(inputs)} and {len(outputs)}"
            )
        self._in = inputs[0]
        self._out = outputs[0]
        self._shape: tuple[int, ...] = tuple(int(v) for v in self._in["shape"])

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self._shape

    def run(self, batch: npt.NDArray[np.float32] | npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """The output for ``batch``: float32, or uint8 pixels (converted to float32 as they are copied into
        the model's input, without a float copy of the image in between)."""
        shape = tuple(int(v) for v in batch.shape)
        if shape != self._shape:
            self._interp.resize_tensor_input(int(self._in["index"]), list(shape), strict=False)
            self._interp.allocate_tensors()
            self._shape = shape
            self._out = self._interp.get_output_details()[0]
        # A view of the input tensor, dropped before ``invoke``.
        self._interp.tensor(int(self._in["index"]))()[...] = batch
        self._interp.invoke()
        return np.asarray(self._interp.get_tensor(int(self._out["index"])), dtype=np.float32).copy()


def default_threads() -> int:
    try:
        return max(1, min(4, len(os.sched_getaffinity(0))))
    except AttributeError:  # not on Linux
        return max(1, min(4, os.cpu_count() or 1))


def read_model_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise ModelError(f"model file missing: {path}") from exc
    except OSError as exc:
        raise ModelError(f"model file unreadable: {path}: {exc}") from exc
