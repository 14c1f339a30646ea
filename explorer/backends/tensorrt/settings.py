"""How to build a TensorRT engine: plain data that crosses to the build worker as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

from ...dtypes import PRECISIONS
from ...errors import BuildError, ExplorerError
from .. import MAX_DURATION_S


@dataclass
class TensorRTBuildSettings:
    """How to build. Plain data (JSON-able through :meth:`to_dict` / :meth:`from_dict`) for the worker.

    ``shapes``: input name -> (min, opt, max) shapes, one optimization profile; required for every input
    with a dynamic dimension. ``timing_cache``: a file to load before the build and to save (combined with
    what is already there) after it. ``workspace`` / ``tactic_shared_memory``: memory pool limits in bytes.
    ``runs`` timed inferences after ``warmup`` untimed ones give per-layer latencies (0 runs: no profiling);
    with ``duration`` (seconds) the timed inferences go on until that much time has passed too, as
    trtexec's ``--duration``.
    ``output_dir``: where the engine and its artifacts go (default: the log's folder, else a new temp dir).
    ``keep_io_types``: on TensorRT 11, keep fp32 inputs/outputs when converting the model to fp16/bf16.
    ``editable_timing_cache``: on TensorRT >= 10.8, build with ``BuilderFlag.EDITABLE_TIMING_CACHE`` so the
    cache's entries (tactic and time per layer key) can be listed.
    ``library``: which TensorRT-shaped library builds (a key of :data:`explorer.trt.LIBRARIES`: "tensorrt" or
    "tensorrt-rtx"). ``compute_capability`` (TensorRT-RTX): the GPU the engine is built for, "auto" (the
    RTX-class GPU here, else SM86 ahead of time), "CURRENT" or a ``trt.ComputeCapability`` name ("SM86").
    """

    precision: str = "fp32"
    opt_level: int = 3
    workspace: int | None = None
    tactic_shared_memory: int | None = None
    shapes: dict[str, tuple[Sequence[int], Sequence[int], Sequence[int]]] = field(default_factory=dict)
    timing_cache: str | None = None
    sparse_weights: bool = False
    runs: int = 10
    warmup: int = 3
    duration: float = 0.0
    output_dir: str | None = None
    keep_io_types: bool = True
    editable_timing_cache: bool = True
    library: str = "tensorrt"
    compute_capability: str = "auto"

    def validate(self) -> None:
        if self.precision not in PRECISIONS:
            raise ExplorerError(f"unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}")
        if not 0 <= int(self.opt_level) <= 5:
            raise ExplorerError(f"builder optimization level must be 0..5, got {self.opt_level}")
        for name, value in (("workspace", self.workspace), ("tactic_shared_memory", self.tactic_shared_memory)):
            if value is not None and int(value) <= 0:
                raise ExplorerError(f"{name} must be a positive number of bytes, got {value}")
        from ...trt import LIBRARIES

        if self.library not in LIBRARIES:
            raise ExplorerError(f"unknown TensorRT library {self.library!r}; choose one of {', '.join(LIBRARIES)}")
        if self.compute_capability != "auto" and not str(self.compute_capability).isupper():
            raise ExplorerError(f"compute capability must be 'auto' or a TensorRT-RTX name like SM86 or CURRENT, "
                                f"got {self.compute_capability!r}")
        if int(self.runs) < 0 or int(self.warmup) < 0:
            raise ExplorerError("runs and warmup must be >= 0")
        if not 0 <= float(self.duration) <= MAX_DURATION_S:
            raise ExplorerError(f"duration must be 0..{MAX_DURATION_S:.0f} seconds, got {self.duration}")
        for name, triple in self.shapes.items():
            if len(triple) != 3:
                raise ExplorerError(f"shapes[{name!r}] must be (min, opt, max), got {triple!r}")
            lo, opt, hi = (tuple(int(d) for d in s) for s in triple)
            if not (len(lo) == len(opt) == len(hi)) or any(not (a <= b <= c) for a, b, c in zip(lo, opt, hi)):
                raise ExplorerError(f"shapes[{name!r}] must satisfy min <= opt <= max in every dimension, "
                                    f"got {lo}, {opt}, {hi}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["shapes"] = {k: [list(s) for s in v] for k, v in self.shapes.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TensorRTBuildSettings":
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ExplorerError(f"unknown TensorRT build settings: {', '.join(sorted(unknown))}")
        values = dict(data)
        values["shapes"] = {k: tuple(tuple(int(d) for d in s) for s in v)
                            for k, v in (data.get("shapes") or {}).items()}
        return cls(**values)


class BuildCancelled(BuildError):
    """The user cancelled the build (the progress monitor told TensorRT to stop)."""


__all__ = ["BuildCancelled", "TensorRTBuildSettings"]
