"""Feed one case through the public API (or the CLI) and say how it ended.

Outcomes: ``ok`` (a result), ``ExplorerError`` (the documented failure) or ``other`` (anything else: another
exception type, a CLI exit code other than 0/2, more than one ``error:`` line, or terminal control
characters in the human-readable output). The harness adds ``crash``, ``timeout`` and ``memory``, which
also count as ``other``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any

from . import corpus
from .cases import Case

#: C0/C1 control characters except newline: none may reach a terminal from a hostile name
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class UnsafeOutput(AssertionError):
    """Human-readable output that would put control characters on the user's terminal."""


def _check_text(text: str, what: str) -> None:
    m = _CONTROL.search(text)
    if m:
        raise UnsafeOutput(f"{what} contains control character {m.group()!r} at {m.start()}: "
                           f"{text[max(0, m.start() - 40):m.start() + 40]!r}")


#: where a campaign's model cases take their verdicts: the support-matrix prediction, or NVIDIA's real ONNX
#: parser (TensorRT-RTX's, no GPU needed) through the same ``explorer.analyze`` path
SOURCES = ("matrix", "tensorrt-rtx")


def run_case(case: Case, workdir: str, source: str = "matrix") -> dict[str, Any]:
    """Run a case; never raises (the outcome says what happened). ``source``: one of :data:`SOURCES`."""
    from explorer import ExplorerError

    path = _materialize(case, workdir)
    try:
        if case.kind == "cli":
            return _run_cli(case, path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            runner = _RUNNERS[case.kind]
            detail = runner(case, path, source) if case.kind == "model" else runner(case, path)
        return {"outcome": "ok", "detail": detail}
    except ExplorerError as exc:
        message = str(exc)
        return {"outcome": "ExplorerError", "error_type": type(exc).__name__, "detail": message[:300],
                "names_file": bool(exc.file) or case.source not in ("path",)}
    except BaseException as exc:  # noqa: BLE001 - the point is to see everything else
        if isinstance(exc, KeyboardInterrupt):
            raise
        return {"outcome": "other", "error_type": type(exc).__name__, "detail": str(exc)[:500],
                "traceback": traceback.format_exc()[-4000:]}


def _materialize(case: Case, workdir: str) -> str:
    directory = Path(workdir) / f"case{case.index}"
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in case.extra_files.items():
        (directory / name).write_bytes(content)
    path = directory / f"input{case.suffix}"
    path.write_bytes(case.data or b"")
    return str(path)


# ------------------------------------------------------------------------------------------- models

def _model_source(case: Case, path: str):
    if case.source == "proto" and case.proto is not None:
        return case.proto
    if case.source == "bytes":
        return case.data or b""
    return path


def _run_model(case: Case, path: str, source: str = "matrix") -> str:
    import explorer
    from explorer.cli.fusions import render as render_fusions

    opts = case.options
    model = explorer.load_model(_model_source(case, path))
    json.dumps(model.summary(), default=str)
    # the real parser judges for its own version: a support-matrix version is the prediction's option only
    version = {"trt_version": opts.get("trt_version")} if source == "matrix" else {}
    report = explorer.analyze(model, source=source, min_block_size=opts.get("min_block_size", 1),
                              require_mac=opts.get("require_mac", False), **version)
    if source != "matrix":
        from explorer.support import disagreements

        predicted = explorer.analyze(model, source="matrix", min_block_size=opts.get("min_block_size", 1))
        json.dumps([d.to_dict() for d in disagreements(predicted, report)])
    _check_text(report.summary(), "analyze summary")
    json.dumps(report.to_dict())
    report.nodes_frame()
    report.unsupported_frame()
    report.partitions_frame()
    groups = explorer.predict_fusions(model)
    _check_text(render_fusions(groups, None, show_all=True, model_name=model.name), "fusions table")
    if opts.get("map_fixture"):
        from explorer.engine import map_layers, read_layer_info
        from explorer.fusions import compare_with_engine

        layers = read_layer_info(str(corpus.FIXTURES / "a100_resnet_qat.graph.json"))
        json.dumps(map_layers(layers, model).to_dict())
        compare_with_engine(groups, layers, model)
    if opts.get("fold"):
        folded = explorer.analyze(model, source=source, fold_constants=True, **version)
        _check_text(folded.summary(), "folded summary")
    if opts.get("opset_convert"):
        from explorer.model.transforms import convert_opset

        convert_opset(model, 17)
    return f"{len(model.nodes)} nodes, {len(report.partitions)} partitions, {len(groups)} fusion groups"


# --------------------------------------------------------------------------------------- artifacts

def _artifact_source(case: Case, path: str):
    if case.source == "text":
        return (case.data or b"").decode("utf-8", "replace")
    if case.source == "bytes":
        return case.data or b""
    if case.source == "object":
        return json.loads(case.data or b"null")
    return path


def _render_report(report) -> None:
    from explorer.cli.inspect import render

    _check_text(render(report), "inspect report")
    json.dumps(report.to_dict(), default=str)
    report.layers_frame()
    report.tactics_frame()
    report.memory_frame()


def _run_layer_info(case: Case, path: str) -> str:
    from explorer.engine import load_report, map_layers, read_layer_info

    report = read_layer_info(_artifact_source(case, path))
    if case.options.get("model"):
        import explorer
        from explorer.fusions import compare_with_engine

        json.dumps(map_layers(report, _resnet()).to_dict())
        compare_with_engine(explorer.predict_fusions(_resnet()), report, _resnet()).to_dict()
    if case.options.get("combine"):
        report = load_report(graph=_artifact_source(case, path),
                             profile=str(corpus.FIXTURES / "a100_resnet_fp32.profile.json"),
                             model=_resnet() if case.options.get("model") else None)
    _render_report(report)
    return f"{len(report.layers)} layers"


def _run_profile(case: Case, path: str) -> str:
    from explorer.engine import load_report, read_profile

    report = read_profile(_artifact_source(case, path))
    if case.options.get("combine"):
        report = load_report(graph=str(corpus.FIXTURES / "a100_resnet_fp32.graph.json"),
                             profile=_artifact_source(case, path))
    _render_report(report)
    return f"{len(report.layers)} rows"


def _run_times(case: Case, path: str) -> str:
    from explorer.engine import load_report, read_times

    report = read_times(_artifact_source(case, path))
    if case.options.get("combine"):
        report = load_report(times=_artifact_source(case, path),
                             profile=str(corpus.FIXTURES / "a100_resnet_fp32.profile.json"))
    _render_report(report)
    return f"{report.end_to_end.count if report.end_to_end else 0} inferences"


def _run_log(case: Case, path: str) -> str:
    from explorer.engine import load_report, read_build_log

    if case.source == "text":
        source: Any = (case.data or b"").decode("utf-8", "replace")
    elif case.source == "lines":
        source = (case.data or b"").decode("utf-8", "replace").splitlines()
    else:
        source = path
    report = read_build_log(source)
    if case.options.get("with_graph") or case.options.get("model"):
        report = load_report(graph=str(corpus.FIXTURES / "a100_resnet_fp32.graph.json") if case.options.get(
            "with_graph") else None, log=source, model=_resnet() if case.options.get("model") else None)
    _render_report(report)
    return f"{len(report.tactics)} tactic records"


_RESNET = None


def _resnet():
    global _RESNET
    if _RESNET is None:
        import explorer

        _RESNET = explorer.load_model(str(corpus.SAMPLES / "resnet18.onnx"))
    return _RESNET


_RUNNERS = {"model": _run_model, "layer_info": _run_layer_info, "profile": _run_profile, "times": _run_times,
            "log": _run_log}


# ---------------------------------------------------------------------------------------------- CLI

CLI_TIMEOUT = 90


def _run_cli(case: Case, path: str) -> dict[str, Any]:
    argv = [path if a == "{file}" else a for a in case.argv or []]
    env = dict(os.environ)
    env["PYTHONPATH"] = str(corpus.REPO) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-m", "explorer", *argv], cwd=str(corpus.REPO), capture_output=True,
                          timeout=CLI_TIMEOUT, env=env)
    stdout = proc.stdout.decode("utf-8", "replace")
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode == 0:
        if "--json" in argv:
            json.loads(stdout)
        else:
            _check_text(stdout, "CLI stdout")
        return {"outcome": "ok", "detail": f"exit 0, {len(stdout)} chars"}
    lines = stderr.splitlines()
    if proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "):
        try:
            _check_text(lines[0], "CLI error line")
        except UnsafeOutput as exc:
            return {"outcome": "other", "error_type": "UnsafeOutput", "detail": str(exc)}
        return {"outcome": "ExplorerError", "error_type": "exit 2", "detail": lines[0][:300],
                "names_file": path in lines[0] or os.path.basename(path) in lines[0]}
    return {"outcome": "other", "error_type": f"exit {proc.returncode}",
            "detail": f"argv={argv} stderr={stderr[-1500:]!r}"}
