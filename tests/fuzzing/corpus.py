"""The seeds every mutation starts from: files already in the repository, read once per process."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import onnx

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sample_models"
FIXTURES = REPO / "tests" / "fixtures" / "trt"
LOGS = REPO / "tests" / "data" / "logs"

#: small models first: most graph mutations use them (fast to copy, load and analyse)
SMALL_MODELS = ("hostile_names.onnx", "control_flow.onnx", "dynamic_shapes.onnx", "unsupported_ops.onnx",
                "int8_qdq.onnx", "int8_qdq_asymmetric_uint8.onnx", "transformer_encoder.onnx")
LARGE_MODELS = ("resnet18.onnx", "resnet18_qat.onnx")


@functools.lru_cache(maxsize=None)
def model_bytes(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


@functools.lru_cache(maxsize=None)
def _model_proto(name: str) -> onnx.ModelProto:
    proto = onnx.ModelProto()
    proto.ParseFromString(model_bytes(name))
    return proto


def model_proto(name: str) -> onnx.ModelProto:
    """A fresh, mutable copy of a sample model."""
    copy = onnx.ModelProto()
    copy.CopyFrom(_model_proto(name))
    return copy


def model_names() -> list[str]:
    return [name for name in SMALL_MODELS + LARGE_MODELS if (SAMPLES / name).exists()]


@functools.lru_cache(maxsize=None)
def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def fixture_json(name: str):
    return json.loads(fixture_text(name))


def fixtures(kind: str) -> list[str]:
    """Fixture file names of one kind: graph, profile, timing, build.metadata."""
    return sorted(p.name for p in FIXTURES.glob(f"*.{kind}.json"))


@functools.lru_cache(maxsize=None)
def log_text(name: str) -> str:
    return (LOGS / name).read_text(encoding="utf-8")


def logs() -> list[str]:
    return sorted(p.name for p in LOGS.glob("*.log"))
