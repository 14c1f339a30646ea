"""Case ``index`` of seed ``seed``: a pure function of the two, so any case can be replayed on its own."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

import onnx

from . import corpus
from . import mutators as M

#: family -> relative weight in a campaign
FAMILIES: dict[str, int] = {
    "model-bytes": 11,  # byte flips, truncations, length-prefix bombs on real models
    "model-foreign": 5,  # engine plans, PyTorch zips, pickles, JSON, HDF5, gzip, text...
    "model-graph": 17,  # cycles, dangling edges, SSA breaks, zero nodes, random ops/domains/attributes
    "model-names": 8,  # 1 MB / HTML / script / control-character / non-UTF-8 names and strings
    "model-types": 9,  # absurd dims, a million-element shape, wrong dtypes, non-tensor types, opsets
    "model-nesting": 4,  # If/Loop nested up to 120 levels, big chains, bodies reading later values
    "model-external": 6,  # missing, short, hostile or garbage external data
    "json-layer-info": 10,  # trtexec --exportLayerInfo / engine inspector JSON
    "json-profile": 7,  # trtexec --exportProfile
    "json-times": 5,  # trtexec --exportTimes
    "build-log": 11,  # verbose build logs
    "cli": 7,  # python -m explorer ... in a subprocess
}

MODEL_FAMILIES = tuple(f for f in FAMILIES if f.startswith("model-"))
TRT_VERSIONS = (None, None, "10.1", "10.15", "11.x")


@dataclass
class Case:
    seed: int
    index: int
    family: str
    label: str
    kind: str  # model | layer_info | profile | times | log | cli
    data: bytes | None = None  # the file's content
    proto: onnx.ModelProto | None = field(default=None, repr=False)
    source: str = "path"  # how the API gets it: path | bytes | text | object | proto | lines
    suffix: str = ".onnx"
    extra_files: dict[str, bytes] = field(default_factory=dict, repr=False)
    options: dict[str, Any] = field(default_factory=dict)
    argv: list[str] | None = None  # for cli cases: "{file}" is replaced by the case file
    inner_kind: str | None = None  # for cli cases: what the file is

    @property
    def name(self) -> str:
        return f"seed {self.seed} case {self.index} [{self.family}] {self.label}"


def make_case(seed: int, index: int) -> Case:
    rng = random.Random(f"explorer-fuzz/{seed}/{index}")
    family = rng.choices(list(FAMILIES), weights=list(FAMILIES.values()))[0]
    if family == "cli":
        inner_family = rng.choice([f for f in FAMILIES if f != "cli"])
        inner = _make(rng, seed, index, inner_family)
        return _as_cli(rng, inner)
    return _make(rng, seed, index, family)


def _make(rng: random.Random, seed: int, index: int, family: str) -> Case:
    if family.startswith("model-"):
        case = _model_case(rng, seed, index, family)
        case.options.update(_analysis_options(rng))
        return case
    if family == "build-log":
        return _log_case(rng, seed, index)
    return _json_case(rng, seed, index, family)


def _pick_model(rng: random.Random) -> str:
    names = corpus.model_names()
    small = [n for n in names if n in corpus.SMALL_MODELS]
    return rng.choice(names) if rng.random() < 0.15 else rng.choice(small)


def _analysis_options(rng: random.Random) -> dict[str, Any]:
    return {
        "trt_version": rng.choice(TRT_VERSIONS),
        "min_block_size": rng.choice((1, 1, 1, 3, 5, 10_000)),
        "require_mac": rng.random() < 0.2,
        "fold": rng.random() < 0.02,
        "map_fixture": rng.random() < 0.15,
        "opset_convert": rng.random() < 0.01,
    }


def _model_case(rng: random.Random, seed: int, index: int, family: str) -> Case:
    base = _pick_model(rng)
    labels: list[str] = []
    extra: dict[str, bytes] = {}
    proto = None
    data = None
    if family == "model-bytes":
        data = corpus.model_bytes(base)
        for _ in range(rng.choice((1, 1, 2))):
            if rng.random() < 0.15:
                other = corpus.model_bytes(_pick_model(rng))
                data, label = M.splice(rng, data, other)
            else:
                data, label = rng.choice(M.BYTE_MUTATIONS)(rng, data)
            labels.append(label)
        if rng.random() < 0.1:
            data, label = M.random_bytes(rng)
            labels = [label]
        labels.append(f"on {base}")
    elif family == "model-foreign":
        data, label = M.foreign_file(rng)
        labels.append(label)
    elif family == "model-graph":
        proto = corpus.model_proto(base)
        for _ in range(rng.choice((1, 1, 2, 3))):
            labels.append(rng.choice(M.PROTO_GRAPH_MUTATIONS)(rng, proto))
        labels.append(f"on {base}")
    elif family == "model-names":
        proto = corpus.model_proto(base)
        if rng.random() < 0.3:
            data, label = M.non_utf8_names(rng, proto.SerializeToString(), proto)
            labels.append(label)
            proto = None
        else:
            for _ in range(rng.choice((1, 2, 3))):
                labels.append(rng.choice(M.PROTO_NAME_MUTATIONS)(rng, proto))
        labels.append(f"on {base}")
    elif family == "model-types":
        proto = corpus.model_proto(base)
        for _ in range(rng.choice((1, 1, 2))):
            labels.append(rng.choice(M.PROTO_TYPE_MUTATIONS)(rng, proto))
        labels.append(f"on {base}")
    elif family == "model-nesting":
        kind = rng.choice(("if", "if", "loop", "chain", "graph-attr", "later-value", "recursive-fn"))
        if kind in ("if", "loop"):
            depth = rng.choice((2, 10, 30, 32, 33, 50, 120))
            proto = M.nested_model(rng, depth, "If" if kind == "if" else "Loop")
            labels.append(f"{kind}-nested-{depth}")
        elif kind == "chain":
            length = rng.choice((2000, 20_000))
            proto = M.long_chain(rng, length)
            labels.append(f"chain-{length}-nodes")
        else:
            proto = corpus.model_proto(base)
            fn = {"graph-attr": M.m_graph_attr_on_plain_op, "later-value": M.m_body_reads_later_value,
                  "recursive-fn": M.m_recursive_function}[kind]
            labels += [fn(rng, proto), f"on {base}"]
    elif family == "model-external":
        proto = corpus.model_proto(rng.choice(("control_flow.onnx", "dynamic_shapes.onnx", "int8_qdq.onnx",
                                               "unsupported_ops.onnx", "resnet18.onnx")))
        label, extra = M.m_external(rng, proto)
        labels.append(label)
    source = "path"
    roll = rng.random()
    if family == "model-external":
        source = "path" if roll < 0.85 else "bytes"
    elif proto is not None and roll < 0.15:
        source = "proto"
    elif roll < 0.35:
        source = "bytes"
    if proto is not None:
        data = _serialize(proto)
        if data is None:  # too deep for protobuf to serialize: only a ModelProto can carry it
            source = "proto"
    case = Case(seed=seed, index=index, family=family, label=" + ".join(labels), kind="model", data=data,
                proto=proto if source == "proto" else None, source=source, extra_files=extra)
    return case


def _serialize(proto: onnx.ModelProto) -> bytes | None:
    try:
        return proto.SerializeToString()
    except Exception:
        return None


_JSON_KINDS = {"json-layer-info": ("layer_info", "graph"), "json-profile": ("profile", "profile"),
               "json-times": ("times", "timing")}


def _json_case(rng: random.Random, seed: int, index: int, family: str) -> Case:
    kind, fixture_kind = _JSON_KINDS[family]
    base = rng.choice(corpus.fixtures(fixture_kind))
    roll = rng.random()
    obj = None
    if roll < 0.6:
        obj = corpus.fixture_json(base)
        if kind == "times" and rng.random() < 0.7:
            obj = obj[:50]  # keep most cases small
        labels = []
        for _ in range(rng.choice((1, 2, 4, 8))):
            obj, label = M.mutate_json_tree(rng, obj)
            labels.append(label)
        payload: str | bytes = json.dumps(obj, allow_nan=True)
        label = " + ".join(labels)
    elif roll < 0.85:
        payload, label = M.json_text_mutation(rng, corpus.fixture_text(base))
    else:
        payload, label = M.json_wrong_tool(rng, fixture_kind)
    data = payload.encode("utf-8", "surrogatepass") if isinstance(payload, str) else payload
    source = "path"
    r = rng.random()
    if obj is not None and r < 0.15:
        source = "object"
    elif r < 0.3 and isinstance(payload, str):
        source = "text"
    elif r < 0.4:
        source = "bytes"
    options = {"model": rng.random() < 0.3, "combine": rng.random() < 0.3}
    return Case(seed=seed, index=index, family=family, label=f"{label} on {base}", kind=kind, data=data,
                source=source, suffix=".json", options=options)


def _log_case(rng: random.Random, seed: int, index: int) -> Case:
    names = corpus.logs()
    base, other = rng.choice(names), rng.choice(names)
    payload: str | bytes = corpus.log_text(base)
    labels = []
    for _ in range(rng.choice((1, 1, 2))):
        text = payload if isinstance(payload, str) else payload.decode("utf-8", "replace")
        payload, label = M.mutate_log(rng, text, corpus.log_text(other))
        labels.append(label)
        if label in ("log-gzip", "log-fake-gzip"):
            break
    data = payload.encode("utf-8", "surrogatepass") if isinstance(payload, str) else payload
    gz = labels[-1] in ("log-gzip", "log-fake-gzip")
    source = "path"
    r = rng.random()
    if not gz and r < 0.15:
        source = "text"
    elif not gz and r < 0.25:
        source = "lines"
    options = {"with_graph": rng.random() < 0.3, "model": rng.random() < 0.2}
    return Case(seed=seed, index=index, family="build-log", label=" + ".join(labels) + f" on {base}", kind="log",
                data=data, source=source, suffix=".log.gz" if gz else ".log", options=options)


def _as_cli(rng: random.Random, inner: Case) -> Case:
    if inner.data is None:  # a ModelProto too deep to serialize cannot be a file
        inner.data = b""
    if inner.kind == "model":
        command = rng.choice(("analyze", "analyze", "fusions"))
        argv = [command, "{file}"]
        if command == "analyze":
            version = rng.choice(TRT_VERSIONS + ("garbage", "9.0"))
            if version:
                argv += ["--trt-version", version]
            argv += ["--min-block-size", str(rng.choice((1, 5, 0, -3)))]
            if rng.random() < 0.2:
                argv.append("--require-mac")
        elif rng.random() < 0.3:
            argv += ["--graph", str(corpus.FIXTURES / rng.choice(corpus.fixtures("graph")))]
    else:
        flag = {"layer_info": "--graph", "profile": "--profile", "times": "--times", "log": "--log"}[inner.kind]
        argv = ["inspect", flag, "{file}"]
        if rng.random() < 0.3:
            argv += ["--model", str(corpus.SAMPLES / "resnet18.onnx")]
    if rng.random() < 0.5:
        argv.append("--json")
    return Case(seed=inner.seed, index=inner.index, family="cli", label=f"{' '.join(argv[:1])}: {inner.label}",
                kind="cli", data=inner.data, source="path", suffix=inner.suffix, extra_files=inner.extra_files,
                argv=argv, inner_kind=inner.kind)


def model_cases(seed: int, cases: int, per_family: int | None = None) -> list[int]:
    """The indexes of the model cases among cases ``0..cases-1`` of ``seed`` (at most ``per_family`` of each
    model family, the first ones): the cases a real-parser campaign sends through ``source="tensorrt-rtx"``."""
    taken: dict[str, int] = {}
    out = []
    for index in range(cases):
        family = make_case(seed, index).family
        if family in MODEL_FAMILIES and (per_family is None or taken.get(family, 0) < per_family):
            taken[family] = taken.get(family, 0) + 1
            out.append(index)
    return out
