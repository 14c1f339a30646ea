"""explorer.build / start_build: builds in a worker process, progress, cancel, crashes, errors, the CLI.

Everything runs for real: ONNX Runtime in the worker on the sample models, real cancellation, a worker
really killed by a signal, the real TensorRT availability check (TensorRT cannot be installed here).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import onnx
import pytest

from conftest import SAMPLES
from explorer.backends.build import (BuildCancelled, BuildJob, BuildReport, BuildSettings, Progress, build,
                                     normalize_shapes, start_build)
from explorer.backends.tensorrt import (EndToEndLatency, EngineMemory, TensorRTBuildResult,
                                        TimingCacheInfo, report_from_tensorrt)
from explorer.cli import main
from explorer.engine.report import EngineReport
from explorer.errors import BuildError

FAST = {"backend": "onnxruntime", "runs": 3, "warmup": 1}


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _eventually(predicate, what: str) -> None:
    """Wait for a state the code reaches by itself (a process reaped); a generous bound only catches a hang."""
    deadline = time.monotonic() + 60
    while not predicate():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.02)


def _long_build_in_profile(**kwargs) -> BuildJob:
    """A build of 1000 runs, returned once its worker is timing them (the phase a cancel or a kill meets)."""
    profiling = threading.Event()
    job = start_build(SAMPLES / "resnet18.onnx", backend="onnxruntime", runs=1000, warmup=1,
                      on_progress=lambda phase, step, total: phase == "profile" and profiling.set(), **kwargs)
    assert profiling.wait(120), f"the build never reached its timed runs: {job.progress}, {job.exception()}"
    return job


# ------------------------------------------------------------------------------------------ builds

@pytest.mark.parametrize("name", ["resnet18", "resnet18_qat", "transformer_encoder", "dynamic_shapes", "int8_qdq",
                                  "int8_qdq_asymmetric_uint8", "hostile_names", "control_flow"])
def test_every_runnable_sample_builds_with_onnxruntime(name):
    report = build(SAMPLES / f"{name}.onnx", **FAST)
    assert isinstance(report, BuildReport) and isinstance(report, EngineReport)
    assert report.backend == "onnxruntime" and report.layers
    for layer in report.layers:
        assert layer.latency is not None and layer.latency.median_ms > 0, layer.name
        assert layer.tactic == "CPUExecutionProvider"
    assert report.end_to_end is not None and report.end_to_end.latency.p50 > 0
    assert report.memory.weights_bytes is not None and report.memory.total_activation_bytes > 0
    assert report.mapping is not None and report.mapping.verified
    if name == "resnet18_qat":  # the weights' Cast + QuantizeLinear are folded into int8 initializers
        folded = [v for v in report.vanished if v["reason"] == "constant-folded by ONNX Runtime"]
        assert folded and "QuantizeLinear_7" in folded[0]["onnx_nodes"]
    data = report.to_dict()
    json.dumps(data)  # plain JSON all the way down
    assert {"layers", "latency_ms_total", "tactics", "memory", "backend", "settings", "fusions"} <= set(data)


def test_resnet18_build_reports_fusions_settings_and_provenance():
    report = build(str(SAMPLES / "resnet18.onnx"), opt_level=2, **FAST)
    assert report.layer("Conv_0").type == "FusedConv"
    assert report.layer("Conv_0").onnx_nodes == ["Conv_0", "Relu_1"]
    assert report.mapping.layers_of("Relu_1") == ["Conv_0"]
    assert {f["pattern"] for f in report.fusions} == {"Conv + Relu -> FusedConv"}
    s = report.settings
    assert s["precision"] == "fp32" and s["opt_level"] == 2 and s["ort_graph_optimization_level"] == "ORT_ENABLE_EXTENDED"
    assert s["runs"] == 3 and s["warmup"] == 1 and s["providers"] == ["CPUExecutionProvider"]
    assert s["backend"] == "onnxruntime" and s["backend_reason"] == "requested"
    assert any("ONNX Runtime" in src and "profiler" in src for src in report.sources)
    assert "ONNX Runtime" in report.provenance["latency"]
    assert report.layer("Conv_0").latency.p10_ms <= report.layer("Conv_0").latency.p90_ms
    frame = report.layers_frame()
    assert len(frame) == len(report.layers) and frame["latency_ms"].notna().all()
    timings = report.timings
    assert timings["wall_s"] >= timings["worker_process_s"] > 0 and "profile" in timings["worker_s"]


def test_auto_backend_records_why_it_chose_onnxruntime():
    from explorer.trt import available

    ok, why = available()
    if ok:
        pytest.skip("TensorRT can build here: auto picks it")
    report = build(SAMPLES / "int8_qdq.onnx", runs=2, warmup=0)
    assert report.backend == "onnxruntime"
    assert report.backend_reason.startswith("auto: TensorRT not available") and why in report.backend_reason
    assert report.settings["backend_reason"] == report.backend_reason
    assert any(note.startswith("backend: ONNX Runtime (auto") for note in report.notes)


def test_tensorrt_backend_without_tensorrt_real_availability_check():
    from explorer.trt import available

    ok, why = available()
    if ok:
        pytest.skip("TensorRT is available here")
    with pytest.raises(BuildError) as info:
        build(SAMPLES / "int8_qdq.onnx", backend="tensorrt", runs=1, warmup=0)
    assert not isinstance(info.value, BuildCancelled)
    assert "TensorRT is not available here" in str(info.value) and why in str(info.value)
    assert "onnxruntime" in (info.value.hint or "")


def test_model_as_bytes_proto_and_loaded_model():
    from explorer import load_model

    path = SAMPLES / "int8_qdq.onnx"
    for source in (path.read_bytes(), onnx.load(path), load_model(path)):
        report = build(source, **FAST)
        assert any(layer.type == "QLinearConv" for layer in report.layers)
    model = load_model(path.read_bytes())  # a Model without a file: written to a temporary file
    assert model.path is None
    assert build(model, **FAST).layers


def test_progress_phases_log_and_nonblocking_handle():
    seen: list[tuple[str, int, int]] = []
    job = start_build(SAMPLES / "resnet18.onnx", precision="fp16", on_progress=lambda *a: seen.append(a), **FAST)
    assert isinstance(job, BuildJob)
    extra: list[tuple] = []
    job.add_progress_callback(lambda *a: extra.append(a))
    report = job.result(timeout=60)
    assert job.done() and job.exception() is None and job.returncode == 0
    phases = [p for p, _, _ in seen]
    order = ["load", "convert", "optimize", "warmup", "profile", "report"]
    assert [p for p in order if p in phases] == order
    assert sorted(set(phases), key=phases.index) == order
    assert ("profile", 6, 6) in seen  # 3 runs without the profiler + 3 with it
    assert job.progress == Progress("report", 1, 1) and extra
    assert any("NchwcTransformer" in line for line in job.log)  # ONNX Runtime's own warning, from the worker
    assert report.settings["precision"] == "fp16" and report.settings["conversion_tool"]  # the converter used
    # the CPU provider runs most fp16 layers in fp32 between casts: the report says so, layer by layer
    assert any("still compute in fp32" in note for note in report.notes)
    assert {layer.precision for layer in report.layers} & {"FP32", "FP16"}


def test_int8_build_quantizes_with_qdq_and_says_calibration_is_random():
    report = build(SAMPLES / "resnet18.onnx", precision="int8", opt_level=2, **FAST)
    assert "quantize_static" in report.settings["conversion_tool"]
    assert any("random calibration" in note for note in report.notes)
    assert any(layer.type == "QLinearConv" for layer in report.layers)
    assert any(layer.origin == "QDQ" for layer in report.layers)
    assert report.layer("Conv_0").precision in ("INT8", "UINT8")


# ------------------------------------------------------------------------------- cancel and crashes

def test_cancel_event_stops_the_build_and_the_worker():
    cancel = threading.Event()

    def on_progress(phase, step, total):
        if phase == "profile" and not cancel.is_set():
            threading.Thread(target=cancel.set).start()  # from another thread, as a Cancel button would

    job = start_build(SAMPLES / "resnet18.onnx", backend="onnxruntime", runs=1000, warmup=1, cancel=cancel,
                      on_progress=on_progress)
    with pytest.raises(BuildCancelled) as info:
        job.result(timeout=120)
    assert isinstance(info.value, BuildError) and "cancelled" in str(info.value)
    # stopped in its timed runs, well before their end (2 x 1000 steps)
    assert job.progress.phase == "profile" and job.progress.step < 2000
    assert job.returncode is not None and _gone(job.pid)
    assert job.done() and isinstance(job.exception(), BuildCancelled) and job.future.exception() is job.exception()


def test_job_cancel_method_and_done_callback():
    job = _long_build_in_profile()
    ended: list[BuildJob] = []
    job.add_done_callback(ended.append)
    assert job.cancel()  # still running: the cancel is taken
    with pytest.raises(BuildCancelled):
        job.result(timeout=120)
    assert ended == [job] and isinstance(job.exception(), BuildCancelled)
    assert _gone(job.pid) and not job.cancel()  # ended: nothing more to cancel
    late: list[BuildJob] = []
    job.add_done_callback(late.append)  # after the end: called at once
    assert late == [job]


def test_cancel_escalates_to_terminate_then_kill_when_the_worker_hangs(monkeypatch):
    import explorer.backends.jobs.job as job_module

    monkeypatch.setattr(job_module, "CANCEL_GRACE_S", 0.5)
    job = _long_build_in_profile()
    os.kill(job.pid, signal.SIGSTOP)  # a worker stuck in native code: it cannot see the cancel request
    job.cancel()
    with pytest.raises(BuildCancelled):
        job.result(timeout=120)
    assert job.returncode == -signal.SIGKILL and _gone(job.pid)
    assert any("did not stop after the cancel request" in line for line in job.log)
    assert any("killing it" in line for line in job.log)


def test_worker_killed_by_a_signal_becomes_a_build_error():
    job = _long_build_in_profile()
    os.kill(job.pid, signal.SIGKILL)
    with pytest.raises(BuildError) as info:
        job.result(timeout=120)
    assert not isinstance(info.value, BuildCancelled)
    assert "killed by SIGKILL" in str(info.value) and "exit code -9" in str(info.value)
    assert job.returncode == -signal.SIGKILL


# ------------------------------------------------------------------------------------------ errors

def test_unsupported_custom_op_comes_back_with_onnxruntimes_message():
    with pytest.raises(BuildError) as info:
        build(SAMPLES / "unsupported_ops.onnx", **FAST)
    text = str(info.value)
    assert "com.example:MyPlugin(-1) is not a registered function/op" in text  # ONNX Runtime's words
    assert "custom operator" in (info.value.hint or "")


def test_impossible_shapes():
    with pytest.raises(BuildError, match="negative dimension"):  # refused before any process starts
        start_build(SAMPLES / "dynamic_shapes.onnx", shapes={"images": "0x-1"}, **FAST)
    with pytest.raises(BuildError, match="input 'images' has 4 dimension\\(s\\) \\(\\[batch, 3, height, width\\]\\); the shape given, 0x1, has 2"):
        build(SAMPLES / "dynamic_shapes.onnx", shapes={"images": "0x1"}, **FAST)
    with pytest.raises(BuildError, match="no input named"):
        build(SAMPLES / "dynamic_shapes.onnx", shapes={"pixels": "1x3x8x8"}, **FAST)


def test_bad_settings_are_refused_at_once():
    path = SAMPLES / "int8_qdq.onnx"
    for kwargs, words in [({"backend": "tvm"}, "unknown backend"), ({"precision": "fp64"}, "unknown precision"),
                          ({"opt_level": 9}, "opt_level must be 0..5"), ({"runs": 0}, "runs must be"),
                          ({"cancel": "yes"}, "cancel must be"), ({"duration": -1}, "duration must be 0..3600"),
                          ({"duration": "long"}, "duration must be a number")]:
        with pytest.raises(BuildError, match=words):
            start_build(path, **kwargs)
    with pytest.raises(BuildError, match="not found"):
        start_build(SAMPLES / "no_such_model.onnx")
    assert normalize_shapes({"x": (1, 3), "y": ("1x2", "2x2", "4x2"), "z": "1x1,2x2,3x3"}) == {
        "x": ((1, 3), (1, 3), (1, 3)), "y": ((1, 2), (2, 2), (4, 2)), "z": ((1, 1), (2, 2), (3, 3))}
    with pytest.raises(BuildError, match="min <= opt <= max"):
        normalize_shapes({"x": ((2,), (1,), (3,))})


def test_one_build_settings_for_every_backend():
    """One BuildSettings carries what TensorRT's builder needs too, through JSON, with one validator."""
    settings = BuildSettings.make(backend="TensorRT", precision="FP8", opt_level=5, workspace=1 << 30,
                                  tactic_shared_memory=1 << 20, shapes={"x": "1x3x64x64,4x3x224x224,8x3x512x512"},
                                  sparse_weights=True, keep_io_types=False, output_dir="/tmp/out", runs=7)
    assert settings.backend == "tensorrt" and settings.precision == "fp8"
    assert settings.shapes == {"x": ((1, 3, 64, 64), (4, 3, 224, 224), (8, 3, 512, 512))}
    assert BuildSettings.from_dict(json.loads(json.dumps(settings.to_dict()))) == settings
    for bad, words in [(dict(tactic_shared_memory=0), "tactic_shared_memory must be >= 1"),
                       (dict(warmup=-1), "warmup must be 0..")]:
        with pytest.raises(BuildError, match=words):
            BuildSettings(**bad).validate()
    with pytest.raises(BuildError, match="unknown build settings: no_such_setting"):
        BuildSettings.from_dict({"precision": "fp16", "no_such_setting": 1})
    with pytest.raises(BuildError, match="unknown build settings: colour"):
        BuildSettings.make(colour="red")


# ------------------------------------------------------------------------------------- TensorRT results

def test_tensorrt_result_becomes_a_report(fixtures_dir):
    """The parent-side reading of build_engine's result (through the worker's JSON), on real trtexec
    artifacts of an A100 fp32 build."""
    built = TensorRTBuildResult(
        tensorrt_version="10.x", strongly_typed=False, model_path=str(SAMPLES / "resnet18.onnx"),
        built_model_path=str(SAMPLES / "resnet18.onnx"), settings=BuildSettings(runs=10, warmup=3),
        engine_path="/tmp/x.engine", engine_size=123, build_seconds=1.0, total_seconds=2.0,
        memory=EngineMemory(engine_size=123, device_memory=456), timing_cache=TimingCacheInfo(path=None),
        layer_info=json.loads((fixtures_dir / "a100_resnet_fp32.graph.json").read_text()),
        profile=json.loads((fixtures_dir / "a100_resnet_fp32.profile.json").read_text()),
        latency_ms=EndToEndLatency(runs=10, warmup=3, mean=1.0, median=0.9, min=0.8, max=1.5, p90=1.2, p95=1.3,
                                   p99=1.4, includes="copies"),
        notes=["a note"], backend_reason="requested (TensorRT 10.x)")
    result = TensorRTBuildResult.from_dict(json.loads(json.dumps(built.to_dict())))
    assert result == built
    report = report_from_tensorrt(result, str(SAMPLES / "resnet18.onnx"))
    assert report.backend == "tensorrt" and report.layers
    assert any(layer.latency is not None for layer in report.layers)
    fused = [layer for layer in report.layers if layer.onnx_nodes[:2] == ["Conv_0", "Relu_1"]]
    assert fused, [layer.onnx_nodes for layer in report.layers[:3]]
    assert report.fusions and report.memory.engine_totals["engine_size_bytes"] == 123
    assert report.end_to_end.latency.p50 == 0.9 and "a note" in report.notes
    assert report.artifacts["engine_path"] == "/tmp/x.engine"


# --------------------------------------------------------------------------------------------- CLI

def test_cli_build_json(capsys):
    code = main(["build", str(SAMPLES / "resnet18.onnx"), "--backend", "onnxruntime", "--runs", "3",
                 "--warmup", "1", "--opt-level", "2", "--json"])
    out, err = capsys.readouterr()
    assert code == 0
    data = json.loads(out)
    assert {"layers", "latency_ms_total", "tactics", "memory", "backend", "settings"} <= set(data)
    assert data["backend"] == "onnxruntime" and data["settings"]["opt_level"] == 2
    layer = data["layers"][0]
    assert {"name", "type", "precision", "latency_ms", "onnx_nodes", "tactic"} <= set(layer)
    assert layer["type"] == "FusedConv" and layer["onnx_nodes"] == ["Conv_0", "Relu_1"]
    assert {"layer", "tactic", "time_ms", "chosen"} <= set(data["tactics"][0])
    assert {"total_activation_bytes", "weights_bytes", "layers"} <= set(data["memory"])
    assert data["latency_ms_total"] > 0
    # progress on stderr, one line per phase (stderr is not a terminal here)
    assert [line.split("] ", 1)[1].split(" (")[0] for line in err.splitlines() if line.startswith("[")] == [
        "load", "convert", "optimize", "warmup", "profile", "report"]


def test_duration_times_runs_until_it_has_passed(capsys):
    """As trtexec's --duration: 5 runs asked, but runs go on until 0.4 s of them (without the profiler)
    have passed; the per-node medians come from a share of them. Through the CLI, as a user would."""
    code = main(["build", str(SAMPLES / "hostile_names.onnx"), "--backend", "onnxruntime", "--runs", "5",
                 "--warmup", "2", "--duration", "0.4", "--json"])
    data = json.loads(capsys.readouterr()[0])
    assert code == 0 and data["settings"]["duration"] == 0.4
    assert data["settings"]["runs"] > 5 and 0 < data["settings"]["profiled_runs"] <= data["settings"]["runs"]
    report = build(SAMPLES / "hostile_names.onnx", backend="onnxruntime", runs=5, warmup=2, duration=0.4)
    e2e_ms = report.raw["latency"]["end_to_end_ms"]
    assert len(e2e_ms) == report.settings["runs"] > 5 and sum(e2e_ms) >= 400.0


def test_cli_build_text_and_bad_input(capsys):
    assert main(["build", str(SAMPLES / "hostile_names.onnx"), "--runs", "2", "--warmup", "0",
                 "--shape", "<img src=x onerror=alert(1)>:1x4x128x128"]) == 0
    out, _ = capsys.readouterr()
    assert "backend      onnxruntime" in out and "latency      median" in out

    for argv, words in [
        (["--shape", "images:0x-1"], "negative dimension"),
        (["--shape", "images"], "write INPUT:DIMS"),
        (["--shape", "images:1xbig"], "is not an integer"),
    ]:
        assert main(["build", str(SAMPLES / "dynamic_shapes.onnx"), *argv]) == 2
        _, err = capsys.readouterr()
        errors = [line for line in err.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and words in errors[0], err
    assert main(["build", str(SAMPLES / "unsupported_ops.onnx"), "--runs", "1"]) == 2
    _, err = capsys.readouterr()
    assert "error: " in err and "is not a registered function/op" in err


# ------------------------------------------------------------------------------------ warm workers

def _fresh():
    from explorer.backends.build import shutdown_idle_worker

    shutdown_idle_worker()


def test_second_build_reuses_the_warm_worker_and_starts_faster():
    from explorer.backends.build import idle_worker_pid

    _fresh()
    first = start_build(SAMPLES / "int8_qdq.onnx", **FAST)
    first.result(timeout=60)
    assert not first.reused_worker and first.returncode == 0
    assert idle_worker_pid() == first.pid and not _gone(first.pid)  # alive, waiting for the next build
    second = start_build(SAMPLES / "int8_qdq.onnx", **FAST)
    report = second.result(timeout=60)
    assert second.reused_worker and second.pid == first.pid
    # no timed assertion (the suite runs on loaded machines): how long a start takes is bench/build.py's --cold
    assert report.timings["worker_reused"] == 1.0 and report.layers
    # each build has its own log: ONNX Runtime's warning once per build, not accumulated
    assert sum("NchwcTransformer" in line for line in second.log) == 1
    assert idle_worker_pid() == first.pid


def test_concurrent_builds_each_get_a_worker_and_one_is_kept():
    from explorer.backends.build import idle_worker_pid

    _fresh()
    jobs = [start_build(SAMPLES / "int8_qdq.onnx", **FAST) for _ in range(2)]
    for job in jobs:
        job.result(timeout=60)
    assert jobs[0].pid != jobs[1].pid
    kept = idle_worker_pid()
    assert kept in (jobs[0].pid, jobs[1].pid)
    other = jobs[0].pid if kept == jobs[1].pid else jobs[1].pid
    _eventually(lambda: _gone(other), "the second idle worker exits (at most one is kept)")


def test_cancelled_or_failed_build_discards_its_worker():
    from explorer.backends.build import idle_worker_pid

    _fresh()
    build(SAMPLES / "int8_qdq.onnx", **FAST)
    warm = idle_worker_pid()
    job = _long_build_in_profile()
    assert job.pid == warm and job.reused_worker
    job.cancel()
    with pytest.raises(BuildCancelled):
        job.result(timeout=120)
    assert _gone(warm) and idle_worker_pid() is None
    after = start_build(SAMPLES / "int8_qdq.onnx", **FAST)
    after.result(timeout=60)
    assert after.pid != warm and not after.reused_worker
    with pytest.raises(BuildError):  # an error ends the worker too
        build(SAMPLES / "unsupported_ops.onnx", **FAST)
    assert _gone(after.pid) and idle_worker_pid() is None


def test_killed_idle_worker_is_replaced_transparently(monkeypatch):
    import explorer.backends.jobs.worker as build_module

    _fresh()
    build(SAMPLES / "int8_qdq.onnx", **FAST)
    dead = build_module.idle_worker_pid()
    os.kill(dead, signal.SIGKILL)
    job = start_build(SAMPLES / "int8_qdq.onnx", **FAST)  # at once: the kill may not be visible yet
    assert job.result(timeout=60).layers
    assert job.pid != dead and _gone(dead)

    # the worker dies after it was taken for the build but before it read the request: the build retries
    dying = build_module.idle_worker_pid()
    os.kill(dying, signal.SIGKILL)
    monkeypatch.setattr(build_module._Worker, "alive", lambda self: True)
    job = start_build(SAMPLES / "int8_qdq.onnx", **FAST)
    assert job.result(timeout=60).layers
    assert job.pid != dying and not job.reused_worker
    assert any("had exited (killed by SIGKILL) before taking this build" in line for line in job.log)


def test_idle_worker_exits_when_its_stdin_closes():
    from explorer.backends.build import idle_worker_pid, shutdown_idle_worker

    build(SAMPLES / "int8_qdq.onnx", **FAST)
    pid = idle_worker_pid()
    shutdown_idle_worker()
    assert idle_worker_pid() is None and _gone(pid)


def test_report_carries_raw_and_corrected_layer_times_and_the_calibration():
    report = build(SAMPLES / "transformer_encoder.onnx", backend="onnxruntime", runs=10, warmup=2)
    calibration = report.raw["latency"]["profiler_calibration"]
    assert calibration and calibration["overhead_us"] >= 0
    correction = report.provenance["latency_correction"]
    assert "us/node (+" in correction and "calibrated on chains of 64 Neg and 16 Sigmoid nodes" in correction
    assert ("in this build" in correction) != bool(calibration.get("reused"))  # or "... earlier in this build worker"
    assert "calibrated on chains of 64 Neg" in report.layers[0].latency.source
    assert f"median of {report.settings['profiled_runs']} profiled runs" in report.layers[0].latency.source
    for layer in report.layers:
        assert layer.latency.raw_median_ms >= layer.latency.median_ms > 0
    assert report.sum_of_layer_medians_ms <= report.raw_sum_of_layer_medians_ms
    assert report.raw_sum_of_layer_medians_ms == pytest.approx(report.raw["latency"]["raw_sum_of_node_medians_ms"])
    json.dumps(report.to_dict())


def test_warm_worker_shares_one_thread_pool_and_still_quantizes_int8():
    """In the build worker the timed sessions share ONNX Runtime's global thread pool (so one session's
    spinning threads never slow the other's runs); every session of that process must then use it, which
    quantize_static's own sessions cannot: int8 quantization runs in an isolated child there. A real fp32
    build, then a real int8 quantization in the same warm worker, reusing its profiler calibration."""
    from explorer.backends.build import idle_worker_pid

    first = build(SAMPLES / "transformer_encoder.onnx", backend="onnxruntime", runs=5, warmup=1)
    assert "one pool shared by the timed sessions" in first.raw["settings"]["threads"]
    pid = idle_worker_pid()
    second = build(SAMPLES / "transformer_encoder.onnx", backend="onnxruntime", precision="int8", runs=5, warmup=1)
    assert idle_worker_pid() == pid and second.timings["worker_reused"] == 1.0
    assert second.raw["conversion"]["tool"].startswith("onnxruntime.quantization.quantize_static")
    assert any(layer.type in ("QuantizeLinear", "DequantizeLinear") for layer in second.layers)
    calibration = second.raw["latency"]["profiler_calibration"]
    assert calibration["reused"] and calibration["seconds"] == 0.0 and calibration["age_s"] >= 0
    assert "earlier in this build worker" in second.provenance["latency_correction"]


def test_prestart_readies_a_worker_that_the_first_build_uses_warm():
    """prestart() (the app calls it when the Build tab opens) returns the worker's pid; the worker imports its
    libraries and calibrates the profiler while nobody waits, so the first real build reuses both (how much
    time that saves is measured by bench/build.py, not asserted here)."""
    from explorer.backends.build import idle_worker_pid, prestart

    _fresh()
    pid = prestart()
    assert pid == idle_worker_pid()
    assert prestart() == pid  # one idle worker, not one per call
    time.sleep(0.5)
    report = build(SAMPLES / "int8_qdq.onnx", backend="onnxruntime", runs=5, warmup=1)
    assert report.timings["worker_reused"] == 1.0 and idle_worker_pid() == pid
    calibration = report.raw["latency"]["profiler_calibration"]
    assert calibration["reused"] and calibration["seconds"] == 0.0


def test_build_cli_on_a_corrupt_file_prints_exactly_one_error_line(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00\xff garbage")
    out = subprocess.run([sys.executable, "-m", "explorer", "build", str(bad)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(bad) in lines[0]
