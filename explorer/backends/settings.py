"""What to build: the one :class:`BuildSettings` (every backend reads it) and its one validator.

Plain data that crosses to the build worker as JSON (:meth:`BuildSettings.to_dict` / :meth:`from_dict`).
It lives beside the backends, not in :mod:`.jobs`, because the TensorRT and ONNX Runtime builders take it
too and :mod:`.jobs` imports them (a settings module inside jobs would make a circle).
"""

from __future__ import annotations

import dataclasses
import numbers
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from ..dtypes import PRECISIONS
from ..errors import BuildError
from . import MAX_DURATION_S, MAX_TIMED_RUNS

BACKENDS = ("auto", "tensorrt", "tensorrt-rtx", "onnxruntime")
#: TensorRT-RTX's build targets (``trt.ComputeCapability`` names; "auto": the RTX GPU here, else SM86)
COMPUTE_CAPABILITIES = ("auto", "CURRENT", "SM75", "SM80", "SM86", "SM89", "SM120", "SM121")

Shape = tuple[int, ...]


@dataclass
class BuildSettings:
    """What to build, for every backend; :meth:`validated` checks and normalises it.

    ``backend``: which builder ("auto": TensorRT when it runs here, else ONNX Runtime); the TensorRT builder
    reads it as its library ("tensorrt" or "tensorrt-rtx").
    ``shapes``: input name -> (min, opt, max) shapes (one optimization profile). ONNX Runtime runs the opt
    shape; TensorRT builds for the whole range. A dynamic input without one runs (ONNX Runtime) or is built
    for min = opt = max (TensorRT) at the sizes :func:`explorer.backends.inputs.choose_dims` picks, noted.
    ``workspace`` / ``tactic_shared_memory``: memory pool limits in bytes (TensorRT; ``workspace`` also
    ONNX Runtime's TensorRT provider). ``timing_cache``: a file to load before the build and to save
    (combined with what is already there) after it (TensorRT). ``runs`` timed inferences after ``warmup``
    untimed ones, and with ``duration`` (seconds) on until that much time has passed, as trtexec's
    ``--iterations`` and ``--duration``. ``providers``: ONNX Runtime execution providers (default: TensorRT,
    CUDA when present, then CPU). ``seed``: of the random inputs. ``values``: input name -> a number or a
    list of numbers fed instead of random values (control inputs such as silero-vad's ``sr``; a number fills
    the input's shape).

    TensorRT only: ``sparse_weights``; ``output_dir`` where the engine and its artifacts go (default: the
    log's folder, else a new temp dir); ``keep_io_types``: on TensorRT 11, keep fp32 inputs/outputs when
    converting the model to fp16/bf16; ``editable_timing_cache``: on TensorRT >= 10.8, build with
    ``BuilderFlag.EDITABLE_TIMING_CACHE`` so the cache's entries (tactic and time per layer key) can be listed.

    ``precision_block``: op types (``"Softmax"``) and node names kept fp32 when the model is converted to
    fp16/bf16 (added to the converter's default block list, as Model Optimizer AutoCast's ``op_block_list`` /
    ``node_block_list``) or excluded from int8 quantization: the retry after an accuracy loss.

    TensorRT-RTX only: ``compute_capability``, the GPU generation the engine is built for: "auto" (the
    RTX-class GPU of this machine, else SM86 ahead of time: no GPU needed), "CURRENT", or "SM75" ... "SM121".
    """

    backend: str = "auto"
    precision: str = "fp32"
    opt_level: int = 3
    workspace: int | None = None
    tactic_shared_memory: int | None = None
    shapes: dict[str, tuple[Shape, Shape, Shape]] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    timing_cache: str | None = None
    runs: int = 20
    warmup: int = 5
    duration: float = 0.0
    providers: list[str] | None = None
    seed: int = 0
    sparse_weights: bool = False
    output_dir: str | None = None
    keep_io_types: bool = True
    editable_timing_cache: bool = True
    compute_capability: str = "auto"
    precision_block: list[str] = field(default_factory=list)

    @classmethod
    def make(cls, **values: Any) -> "BuildSettings":
        """Settings from user input (keywords as the fields), validated; raises :class:`BuildError`."""
        unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise BuildError(f"unknown build settings: {', '.join(unknown)}")
        return cls(**values).validated()

    def validated(self) -> "BuildSettings":
        """The one validator: a checked, normalised copy; raises :class:`BuildError` saying what is wrong."""
        backend = str(self.backend).lower()
        if backend not in BACKENDS:
            raise BuildError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        precision = str(self.precision).lower()
        if precision not in PRECISIONS:
            raise BuildError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
        capability = str(self.compute_capability or "auto").strip()
        capability = "auto" if capability.lower() == "auto" else capability.upper()
        if capability not in COMPUTE_CAPABILITIES:
            raise BuildError(f"unknown compute capability {self.compute_capability!r}; choose one of "
                             f"{', '.join(COMPUTE_CAPABILITIES)}", hint="TensorRT-RTX builds for SM86 by default")
        try:
            seconds = float(self.duration or 0.0)
        except (TypeError, ValueError):
            raise BuildError(f"duration must be a number of seconds, got {self.duration!r}") from None
        if not 0.0 <= seconds <= MAX_DURATION_S:
            raise BuildError(f"duration must be 0..{MAX_DURATION_S:.0f} seconds, got {self.duration!r}")
        pools = {name: None if value is None else _int_setting(name, value, 1, None)
                 for name, value in (("workspace", self.workspace),
                                     ("tactic_shared_memory", self.tactic_shared_memory))}
        return dataclasses.replace(
            self, backend=backend, precision=precision, opt_level=_int_setting("opt_level", self.opt_level, 0, 5),
            runs=_int_setting("runs", self.runs, 1, MAX_TIMED_RUNS),
            warmup=_int_setting("warmup", self.warmup, 0, MAX_TIMED_RUNS), duration=seconds, **pools,
            shapes=normalize_shapes(self.shapes), values=normalize_values(self.values),
            timing_cache=os.fspath(self.timing_cache) if self.timing_cache is not None else None,
            output_dir=os.fspath(self.output_dir) if self.output_dir is not None else None,
            providers=[str(p) for p in self.providers] if self.providers else None,
            seed=int(self.seed), sparse_weights=bool(self.sparse_weights),
            keep_io_types=bool(self.keep_io_types), editable_timing_cache=bool(self.editable_timing_cache),
            compute_capability=capability, precision_block=normalize_block(self.precision_block))

    def validate(self) -> None:
        """Raise :class:`BuildError` if :meth:`validated` would."""
        self.validated()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["shapes"] = {k: [list(s) for s in v] for k, v in self.shapes.items()}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "BuildSettings":
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise BuildError(f"unknown build settings: {', '.join(unknown)}")
        values = dict(data)
        values["shapes"] = {k: tuple(tuple(int(d) for d in s) for s in v) for k, v in (data.get("shapes") or {}).items()}
        return cls(**values)

def normalize_block(block: Any) -> list[str]:
    """A block list from a list of names or one text (``"Softmax, /layer1/Conv"``: commas or new lines)."""
    if not block:
        return []
    if isinstance(block, str):
        block = block.replace("\n", ",").split(",")
    if not isinstance(block, (list, tuple)) or not all(isinstance(b, str) for b in block):
        raise BuildError(f"precision_block must be op types or node names (strings), got {block!r}")
    return list(dict.fromkeys(b.strip() for b in block if b.strip()))


def _int_setting(name: str, value: Any, low: int, high: int | None) -> int:
    try:
        number = int(value)
        if number != value and not isinstance(value, str):
            raise ValueError
    except (TypeError, ValueError):
        raise BuildError(f"{name} must be an integer, got {value!r}") from None
    if number < low or (high is not None and number > high):
        bounds = f"{low}..{high}" if high is not None else f">= {low}"
        raise BuildError(f"{name} must be {bounds}, got {number}")
    return number


def parse_shape(text: str) -> Shape:
    """``"1x3x224x224"`` -> (1, 3, 224, 224); ``""`` -> () (a scalar)."""
    text = str(text).strip()
    if not text:
        return ()
    dims = []
    for part in text.lower().split("x"):
        part = part.strip()
        try:
            dims.append(int(part))
        except ValueError:
            raise BuildError(f"bad shape {text!r}: {part!r} is not an integer (write dimensions like 1x3x224x224)"
                             ) from None
    return tuple(dims)


def normalize_shapes(shapes: Mapping[str, Any] | None) -> dict[str, tuple[Shape, Shape, Shape]]:
    """``{input: shape}`` or ``{input: (min, opt, max)}``, each shape a tuple of ints or ``"1x3x224x224"``
    -> ``{input: (min, opt, max)}``; checks dimensions are >= 0, ranks agree and min <= opt <= max."""
    if not shapes:
        return {}
    if not isinstance(shapes, Mapping):
        raise BuildError(f"shapes must be a dict {{input name: shape}}, got {type(shapes).__name__}")
    out: dict[str, tuple[Shape, Shape, Shape]] = {}
    for name, value in shapes.items():
        triple = _as_triple(name, value)
        for shape in triple:
            bad = [d for d in shape if d < 0]
            if bad:
                raise BuildError(f"shape of input {name!r} has a negative dimension ({bad[0]}): "
                                 f"{'x'.join(str(d) for d in shape)}", hint="dimensions are sizes: 0 or more")
        lo, opt, hi = triple
        if not len(lo) == len(opt) == len(hi):
            raise BuildError(f"min, opt and max shapes of input {name!r} have different ranks: {lo}, {opt}, {hi}")
        if any(not a <= b <= c for a, b, c in zip(lo, opt, hi)):
            raise BuildError(f"shapes of input {name!r} must satisfy min <= opt <= max in every dimension, "
                             f"got {lo}, {opt}, {hi}")
        out[str(name)] = triple
    return out


def parse_value(text: str) -> Any:
    """``"16000"`` -> 16000, ``"0.5"`` -> 0.5, ``"1,2,3"`` -> [1, 2, 3]."""
    parts = [p.strip() for p in str(text).strip().strip("[]").split(",")]
    numbers: list[Any] = []
    for part in parts:
        try:
            numbers.append(int(part))
        except ValueError:
            try:
                numbers.append(float(part))
            except ValueError:
                raise BuildError(f"bad input value {text!r}: {part!r} is not a number (write e.g. 16000 or 1,2,3)"
                                 ) from None
    return numbers[0] if len(numbers) == 1 else numbers


def normalize_values(values: Mapping[str, Any] | None) -> dict[str, Any]:
    """``{input: number, list of numbers or "16000"}`` -> ``{input: number or list}`` (JSON-safe); the
    input's type and size are checked against the model when the build loads it."""
    if not values:
        return {}
    if not isinstance(values, Mapping):
        raise BuildError(f"values must be a dict {{input name: number}}, got {type(values).__name__}")
    out: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, str):
            value = parse_value(value)
        is_list = isinstance(value, (list, tuple))
        flat = list(value) if is_list else [value]
        if not flat or any(isinstance(v, bool) or not isinstance(v, numbers.Real) for v in flat):
            raise BuildError(f"value of input {name!r} must be a number or a list of numbers, got {value!r}")
        flat = [v.item() if hasattr(v, "item") else v for v in flat]  # numpy scalars -> JSON-safe numbers
        out[str(name)] = flat if is_list else flat[0]
    return out


def _as_triple(name: str, value: Any) -> tuple[Shape, Shape, Shape]:
    if isinstance(value, str):
        parts = [p for p in value.split(",")]
        if len(parts) == 3:
            return tuple(parse_shape(p) for p in parts)  # type: ignore[return-value]
        if len(parts) == 1:
            shape = parse_shape(value)
            return shape, shape, shape
        raise BuildError(f"shape of input {name!r}: give one shape or three (min,opt,max), got {value!r}")
    if isinstance(value, Mapping):
        try:
            return tuple(_one_shape(name, value[k]) for k in ("min", "opt", "max"))  # type: ignore[return-value]
        except KeyError:
            raise BuildError(f"shape of input {name!r}: a dict needs 'min', 'opt' and 'max'") from None
    if isinstance(value, (list, tuple)):
        if len(value) == 3 and all(isinstance(v, (list, tuple, str)) for v in value):
            return tuple(_one_shape(name, v) for v in value)  # type: ignore[return-value]
        shape = _one_shape(name, value)
        return shape, shape, shape
    raise BuildError(f"shape of input {name!r} must be a tuple of ints, '1x3x224x224' or (min, opt, max), "
                     f"got {value!r}")


def _one_shape(name: str, value: Any) -> Shape:
    if isinstance(value, str):
        return parse_shape(value)
    try:
        dims = tuple(int(d) for d in value)
    except (TypeError, ValueError):
        raise BuildError(f"shape of input {name!r} must contain integers, got {value!r}") from None
    if any(isinstance(d, float) and not float(d).is_integer() for d in value):
        raise BuildError(f"shape of input {name!r} must contain integers, got {value!r}")
    return dims



__all__ = ["BACKENDS", "COMPUTE_CAPABILITIES", "BuildSettings", "Shape", "normalize_block", "normalize_shapes",
           "normalize_values",
           "parse_shape", "parse_value"]
