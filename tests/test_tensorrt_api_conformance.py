"""API conformance check of the explorer's TensorRT code against the real TensorRT Python bindings.

The code checked: ``explorer/trt/*.py`` (TensorRT itself: import, interfaces, the parser) and
``explorer/backends/tensorrt/*.py`` (the builder), read as one module (:data:`SOURCES`). ``explorer/trt``
drives TensorRT-RTX with the same code, so it is also checked against the real ``tensorrt_rtx_bindings``
(1.7.1, installed with its real libraries from PyPI: that dump needs no stubs).

This is NOT a run of TensorRT (no TensorRT library can be installed here): the real
``tensorrt-cu12-bindings`` wheels of 10.0, 10.16 and 11.4 are imported over stub ``libnvinfer`` /
``libnvonnxparser`` / ``libnvinfer_plugin`` libraries (``tests/trt_api/stubs.c``), their API is dumped
(``tests/trt_api/introspect.py``), and the backend's source is checked against each dump
(``tests/trt_api/checker.py``): every ``trt.*`` name, every method, property and enum member used on a
TensorRT object, call arities and keyword names, property setters, interface overrides, each version
branch against the version that takes it, and the TensorRT API behind each Polygraphy call the builder
makes (``tests/trt_api/polygraphy_uses.py``, with the keywords checked against the installed Polygraphy). The checker itself is tested on small snippets that must fail.

Wheels are cached in ``$EXPLORER_WHEEL_CACHE`` (default ``<repo>/.cache/wheels``). A wheel that is neither
cached nor downloadable fails the test, unless ``EXPLORER_OFFLINE=1`` (then it is skipped).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TRT_API = HERE / "trt_api"
#: every file of the explorer that touches the TensorRT API
SOURCE_FILES = sorted([*(REPO / "explorer" / "trt").glob("*.py"), *(REPO / "explorer" / "backends" / "tensorrt").glob("*.py")])


def sources() -> dict[str, str]:
    return {str(p.relative_to(REPO)): p.read_text() for p in SOURCE_FILES}


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"_trt_api_{name}", TRT_API / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


stubbed_env = _load("stubbed_env")
checker = _load("checker")
polygraphy_uses = _load("polygraphy_uses")
POLYGRAPHY = polygraphy_uses.table()

V10_0, V10, V11 = stubbed_env.VERSIONS["10.0"], stubbed_env.VERSIONS["10.16"], stubbed_env.VERSIONS["11.4"]
#: TensorRT-RTX, the installed one (real libraries, no stubs): its branches (compute capability, the native
#: config Polygraphy cannot make) are checked against its real API
RTX = "rtx"


class _Envs:
    """Stubbed environments and API dumps, made on first use and shared by the module's tests."""

    def __init__(self, root: Path):
        self.root = root
        self._envs: dict[str, Any] = {}
        self._dumps: dict[str, dict] = {}

    def env(self, version: str):
        if version not in self._envs:
            try:
                if version == RTX:
                    if stubbed_env.rtx_version() is None:
                        pytest.skip("TensorRT-RTX is not installed")
                    self._envs[version] = stubbed_env.prepare_rtx(self.root)
                else:
                    self._envs[version] = stubbed_env.prepare(version, self.root)
            except stubbed_env.WheelUnavailable as exc:
                if stubbed_env.offline():
                    pytest.skip(str(exc))
                pytest.fail(str(exc), pytrace=False)
            except stubbed_env.EnvironmentProblem as exc:
                pytest.fail(str(exc), pytrace=False)
        return self._envs[version]

    def dump(self, version: str) -> dict:
        if version not in self._dumps:
            try:
                self._dumps[version] = self.env(version).dump_api()
            except stubbed_env.EnvironmentProblem as exc:
                pytest.fail(str(exc), pytrace=False)
        return self._dumps[version]


@pytest.fixture(scope="module")
def envs(tmp_path_factory) -> _Envs:
    return _Envs(tmp_path_factory.mktemp("trt_api"))


def _check_backend(envs: _Envs, version: str):
    report = checker.check(sources(), [envs.dump(version)], POLYGRAPHY)[0]
    print(report.summary())
    errors = "\n".join(f"  {f.file}:{f.line}: {f.message}" for f in report.errors)
    assert not report.errors, f"the backend uses TensorRT API that {version} does not have:\n{errors}"
    return report


# Uses the checker must see, so a checker that silently lost track of types cannot pass vacuously.
_EXPECTED_EVERYWHERE = {
    "tensorrt.OnnxParser", "Builder.create_builder_config (via CreateConfig)",
    "IBuilderConfig.progress_monitor (set)", "IBuilderConfig.builder_optimization_level (set)",
    "ProfilingVerbosity.DETAILED", "IBuilderConfig.create_timing_cache (call)", "IBuilderConfig.set_flag (call)",
    "ITimingCache.serialize (via EngineBytesFromNetwork)",
    "ICudaEngine.create_engine_inspector (call)", "EngineInspector.get_engine_information (call)",
    "LayerInformationFormat.JSON", "IExecutionContext.profiler (set)", "ParserError.desc (call)",
    "ParserError.node_operator (call)", "OnnxParser.parse_from_file (call)",
    "ILogger.log (override)", "IErrorRecorder.report_error (override)", "IProgressMonitor.step_complete (override)",
    "IProfiler.report_layer_time (override)", "BuilderFlag.SPARSE_WEIGHTS",
    # through Polygraphy (CreateConfig, Profile, EngineBytesFromNetwork, TrtRunner)
    "polygraphy.backend.trt.CreateConfig (call)", "polygraphy.backend.trt.EngineBytesFromNetwork (call)",
    "Builder.build_serialized_network (via EngineBytesFromNetwork)", "ITimingCache.combine (via EngineBytesFromNetwork)",
    "IBuilderConfig.set_memory_pool_limit (via CreateConfig)", "BuilderFlag.TF32 (via CreateConfig)",
    "IOptimizationProfile.set_shape (via Profile)", "IExecutionContext.execute_async_v3 (via TrtRunner)",
    # explorer/trt: the parser and the availability probe
    "OnnxParser.num_errors", "ParserError.node_name (call)", "Builder.create_network (call)",
}


def test_tensorrt_backend_api_conformance_10_0(envs):
    report = _check_backend(envs, V10_0)
    expected = _EXPECTED_EVERYWHERE | {"OnnxParser.supports_model (call)", "BuilderFlag.FP16", "BuilderFlag.INT8",
                                       "ICudaEngine.device_memory_size"}
    assert expected <= report.uses, sorted(expected - report.uses)
    assert "OnnxParser.supports_model_v2 (call)" not in report.uses  # 10.1+: the other branch


def test_tensorrt_backend_api_conformance_10x(envs):
    report = _check_backend(envs, V10)
    expected = _EXPECTED_EVERYWHERE | {"OnnxParser.supports_model_v2 (call)", "OnnxParser.get_subgraph_nodes (call)",
                                       "BuilderFlag.FP16", "BuilderFlag.BF16", "BuilderFlag.EDITABLE_TIMING_CACHE",
                                       "ITimingCache.queryKeys (call)", "TimingCacheValue.timingMSec",
                                       "ICudaEngine.device_memory_size_v2"}
    assert expected <= report.uses, sorted(expected - report.uses)


def test_tensorrt_backend_api_conformance_11x(envs):
    report = _check_backend(envs, V11)
    expected = _EXPECTED_EVERYWHERE | {"OnnxParser.supports_model_v2 (call)", "ITimingCache.queryKeys (call)",
                                       "EngineStat.TOTAL_WEIGHTS_SIZE", "ICudaEngine.get_engine_stat (call)"}
    assert expected <= report.uses, sorted(expected - report.uses)
    assert not {u for u in report.uses if u.startswith("BuilderFlag.FP") or u.startswith("BuilderFlag.INT")}


def test_tensorrt_backend_api_conformance_rtx(envs):
    """TensorRT-RTX's branches: the compute capability, the config made without Polygraphy, the build, and
    (with an RTX GPU, not here) deserialize, inspector, IProfiler; no precision flags (strongly typed)."""
    report = _check_backend(envs, RTX)
    expected = {"tensorrt.ComputeCapability",
                "IBuilderConfig.num_compute_capabilities (set)", "IBuilderConfig.set_compute_capability (call)",
                "Builder.build_serialized_network (call)", "Builder.create_optimization_profile (call)",
                "IOptimizationProfile.set_shape (call)", "IBuilderConfig.set_memory_pool_limit (call)",
                "IBuilderConfig.progress_monitor (set)", "IBuilderConfig.profiling_verbosity (set)",
                "Runtime.deserialize_cuda_engine (call)", "ICudaEngine.create_engine_inspector (call)",
                "IExecutionContext.profiler (set)", "IProgressMonitor.step_complete (override)",
                "IExecutionContext.execute_async_v3 (call)", "IExecutionContext.set_tensor_address (call)",
                "IExecutionContext.set_input_shape (call)"}
    assert expected <= report.uses, sorted(expected - report.uses)
    assert not {u for u in report.uses if u.startswith("BuilderFlag.FP") or u.startswith("BuilderFlag.INT")}


#: the debug-tensor path of the precision comparison (explorer/backends/tensorrt/debug_tensors.py)
_DEBUG_TENSOR_USES = {"INetworkDefinition.mark_debug (call)", "INetworkDefinition.is_debug_tensor (call)",
                      "IExecutionContext.set_debug_listener (call)", "IExecutionContext.set_tensor_debug_state (call)",
                      "IDebugListener.process_debug_tensor (override)", "tensorrt.TensorLocation",
                      "ITensor.is_shape_tensor"}


@pytest.mark.parametrize("version", ["10.0", "10.16", "11.4", RTX])
def test_debug_tensor_comparison_uses_only_api_each_version_has(envs, version):
    """The TensorRT side of compare_precision (debug tensors: ``mark_debug``, an ``IDebugListener``,
    ``set_tensor_debug_state``) cannot run here (no GPU): this checks that every call it makes exists in the
    real bindings of each version, and that the checker reached those calls (not a run of TensorRT)."""
    name = version if version == RTX else stubbed_env.VERSIONS[version]
    report = _check_backend(envs, name)
    missing = {u for u in _DEBUG_TENSOR_USES if u not in report.uses and u.replace(" (call)", "") not in report.uses}
    assert not missing, sorted(missing)
    assert "explorer/backends/tensorrt/debug_tensors.py" in sources()
    if version in ("11.4", RTX):  # the libraries that mark the unfused tensors themselves (fusions kept)
        assert {"INetworkDefinition.mark_unfused_tensors_as_debug_tensors (call)",
                "IExecutionContext.unfused_tensors_debug_state (set)"} <= report.uses, sorted(report.uses)


def test_every_version_branch_of_the_backend_is_checked_by_some_bindings(envs):
    source = sources()
    assert {"explorer/trt/verdicts.py", "explorer/backends/tensorrt/builder.py"} <= set(source)
    reports = checker.check(source, [envs.dump(v) for v in (V10_0, V10, V11, RTX)], POLYGRAPHY)
    for report in reports:
        print(report.summary())
    unverified = checker.unverified_branches(source, reports)
    assert not unverified, "\n".join(unverified)


# ------------------------------------------------------------------------------------------------------
# The checker fails when it should
# ------------------------------------------------------------------------------------------------------

def _errors(envs, version: str, source: str) -> list[str]:
    return [f.message for f in checker.check(textwrap.dedent(source), [envs.dump(version)])[0].errors]


def test_checker_rejects_fp16_builder_flag_on_11x(envs):
    snippet = """
        def build(config):
            import tensorrt as trt
            config.set_flag(trt.BuilderFlag.FP16)
    """
    assert any("BuilderFlag.FP16 does not exist" in e for e in _errors(envs, V11, snippet))
    assert _errors(envs, V10, snippet) == []


def test_checker_checks_each_version_branch_against_its_version(envs):
    wrong = """
        def build():
            major, minor = _version(trt)
            config = trt.Builder(trt.Logger()).create_builder_config()
            if major >= 11:
                config.set_flag(trt.BuilderFlag.FP16)   # 10.x code in the 11.x branch
            else:
                config.set_flag(trt.BuilderFlag.REFIT)
    """
    assert any("FP16" in e for e in _errors(envs, V11, wrong))
    assert _errors(envs, V10, wrong) == []  # 10.x never takes that branch
    right = wrong.replace("major >= 11", "major < 11")
    assert _errors(envs, V11, right) == [] and _errors(envs, V10, right) == []


def test_checker_follows_types_through_calls_helpers_and_properties(envs):
    snippet = """
        def build():
            builder = trt.Builder(trt.Logger())
            config = builder.create_builder_config()
            config.set_flagz(trt.BuilderFlag.REFIT)
            config.set_flag(trt.BuilderFlag.REFIT, 3)
            config.set_timing_cache(config.create_timing_cache(b""), ignore_mismatchh=True)
            engine = _deserialize(builder, config)
            engine.num_io_tensors = 3
            _memory(engine)
            for key in config.get_timing_cache().queryKeys():
                key.no_such_field

        def _deserialize(builder, config):
            network = builder.create_network(0)
            runtime = trt.Runtime(trt.Logger())
            return runtime.deserialize_cuda_engine(builder.build_serialized_network(network, config))

        def _memory(engine):
            return engine.device_memory_size
    """
    errors = _errors(envs, V11, snippet)
    for expected in ("IBuilderConfig.set_flagz does not exist", "2 positional arguments given",
                     "no parameter named 'ignore_mismatchh'", "ICudaEngine.num_io_tensors is read-only",
                     "ICudaEngine.device_memory_size does not exist", "TimingCacheKey.no_such_field does not exist"):
        assert any(expected in e for e in errors), (expected, errors)


def test_checker_follows_values_kept_on_self(envs):
    snippet = """
        class Parser:
            def __init__(self, trt):
                self.builder = trt.Builder(trt.Logger())

            def check(self):
                return self.builder.create_networkz(0)
    """
    assert any("Builder.create_networkz does not exist" in e for e in _errors(envs, V10, snippet))


def test_checker_checks_interface_overrides(envs):
    snippet = """
        def make():
            class Monitor(trt.IProgressMonitor):
                def __init__(self):
                    self.steps = 0
                def phase_start(self, phase_name, parent_phase):
                    pass
                def step_completed(self, phase_name, step):
                    return True
    """
    errors = _errors(envs, V10, snippet)
    for expected in ("does not define phase_finish()", "does not define step_complete()",
                     "must call trt.IProgressMonitor.__init__(self)", "phase_start() takes 2 arguments",
                     "declares no method step_completed()"):
        assert any(expected in e for e in errors), (expected, errors)


def test_checker_reports_branches_no_version_checks(envs):
    snippet = """
        def build(config):
            major, minor = _version(trt)
            if (major, minor) >= (12, 0):
                config.set_flag(trt.BuilderFlag.SOMETHING_NEW)
    """
    source = textwrap.dedent(snippet)
    reports = checker.check(source, [envs.dump(v) for v in (V10, V11)])
    assert all(not r.errors for r in reports)
    assert any("(major, minor) >= (12, 0)" in line for line in checker.unverified_branches(source, reports))


def test_checker_follows_polygraphy_calls_to_the_tensorrt_api_they_use(envs):
    snippet = """
        def build(builder, network):
            from polygraphy.backend.trt import CreateConfig
            config = CreateConfig(fp16=True, no_such_option=1)(builder, network)
            config.set_flagz(trt.BuilderFlag.REFIT)
    """
    errors = _errors_with_polygraphy(envs, V11, snippet)
    assert any("CreateConfig uses BuilderFlag.FP16, which does not exist in TensorRT 11" in e for e in errors), errors
    assert any("has no parameter 'no_such_option'" in e for e in errors), errors
    assert any("IBuilderConfig.set_flagz does not exist" in e for e in errors), errors  # typed by its return
    assert not any("FP16" in e for e in _errors_with_polygraphy(envs, V10, snippet))


def test_checker_reads_several_files_as_one_and_names_the_file(envs):
    files = {"a.py": "def make():\n    return trt.Builder(trt.Logger())\n",
             "b.py": "def use():\n    builder = make()\n    builder.no_such_method()\n"}
    report = checker.check(files, [envs.dump(V10)], POLYGRAPHY)[0]
    assert [(f.file, f.line) for f in report.errors] == [("b.py", 3)], report.errors


def _errors_with_polygraphy(envs, version: str, source: str) -> list[str]:
    return [f.message for f in checker.check(textwrap.dedent(source), [envs.dump(version)], POLYGRAPHY)[0].errors]


# ------------------------------------------------------------------------------------------------------
# The backend over the stub libraries: imports, says why it cannot build, never crashes
# ------------------------------------------------------------------------------------------------------

_PROBE = """
import json, threading
from explorer import trt as trt_face
from explorer.backends import tensorrt as backend
from explorer.errors import ExplorerError
import tensorrt as trt

out = {"import_only": trt_face.available(require_gpu=False), "gpu": trt_face.available(),
       "installed": trt_face.installed_version()}
try:
    trt_face.judge_model(trt, b"")
except ExplorerError as exc:
    out["parser"] = str(exc)
ifaces = trt_face.interfaces(trt)
events, cancel = [], threading.Event()
monitor = ifaces.ProgressMonitor(lambda *a: events.append(list(a)), cancel)
monitor.phase_start("Building", "", 2)
first = monitor.step_complete("Building", 0)
cancel.set()
second = monitor.step_complete("Building", 1)
monitor.phase_finish("Building")
out["monitor"] = [first, second, events]
recorder = ifaces.ErrorRecorder()
recorder.report_error(trt.ErrorCodeTRT.INTERNAL_ERROR, "boom")
out["recorder"] = [recorder.num_errors(), recorder.get_error_desc(0)]
profiler = ifaces.LayerProfiler()
profiler.report_layer_time("conv1", 0.5)
out["profiler"] = profiler.times
messages = []
logger = ifaces.Logger(None, trt.ILogger.VERBOSE, messages)
logger.log(trt.ILogger.WARNING, "careful")
logger.log(trt.ILogger.VERBOSE, "chatty")
out["logger"] = messages

# A build goes as far as TensorRT itself: on 11.x the model is converted to fp16 first.
import os, sys, tempfile
import onnx
from onnx import TensorProto, helper, numpy_helper
import numpy as np
from explorer.errors import BuildError
tmp = tempfile.mkdtemp()
w = numpy_helper.from_array(np.full((4, 3, 1, 1), 0.1, np.float32), "w")
graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
                           helper.make_node("Relu", ["c"], ["y"], name="relu")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])], [w])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model_path = os.path.join(tmp, "tiny.onnx")
onnx.save_model(model, model_path)
os.environ["EXPLORER_GPU_LOCK"] = os.path.join(tmp, "gpu.lock")
from explorer.backends.settings import BuildSettings
settings = BuildSettings(precision="fp16", output_dir=os.path.join(tmp, "out"), runs=1)
progress = []
try:
    backend.build_engine(model_path, settings, lambda *a: progress.append(a), threading.Event(),
                         os.path.join(tmp, "out", "build.log"))
except BuildError as exc:
    out["build"] = str(exc)
out["build_files"] = sorted(os.listdir(os.path.join(tmp, "out")))
try:
    backend.build_engine(model_path, BuildSettings(precision="int8", output_dir=tmp))
except BuildError as exc:
    out["int8"] = str(exc)
print(json.dumps(out))
"""


@pytest.mark.parametrize("version", [V10_0, V10, V11])
def test_backend_over_stub_libraries_reports_no_gpu_and_callbacks_work(envs, version):
    """Runs the backend's own code against the real bindings (stub libraries): availability reasons, and
    the callback classes (real pybind11 subclasses) behave; anything that reaches TensorRT fails cleanly."""
    env = envs.env(version)
    proc_env = env.env
    proc_env["PYTHONPATH"] = os.pathsep.join([str(env.site), str(REPO)])
    import subprocess

    proc = subprocess.run([sys.executable, "-c", _PROBE], env=proc_env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["import_only"] == [True, f"TensorRT {version}"]
    assert out["gpu"][0] is False and out["gpu"][1].startswith("no NVIDIA GPU visible")
    assert out["installed"] == ".".join(version.split(".")[:2])
    assert "could not create a builder" in out["parser"]
    first, second, events = out["monitor"]
    assert first is True and second is False  # cancelling makes step_complete tell TensorRT to stop
    assert events == [["Building", 0, 2], ["Building", 1, 2], ["Building", 2, 2], ["Building", 2, 2]]
    assert out["recorder"] == [1, "boom"]
    assert out["profiler"] == {"conv1": [0.5]}
    assert out["logger"] == ["careful"]
    assert "could not create a builder" in out["build"]
    converted = "tiny.fp16.o3.onnx" in out["build_files"]
    assert converted == (version.startswith("11.")), out["build_files"]  # 11.x: strongly typed, converted first
    assert "Q/DQ" in out["int8"]


# ------------------------------------------------------------------------------------------------------
# TensorRT-RTX: the same explorer/trt code against its real bindings
# ------------------------------------------------------------------------------------------------------

#: the files that drive TensorRT-RTX (the builder in explorer/backends/tensorrt is TensorRT's alone)
RTX_FILES = sorted((REPO / "explorer" / "trt").glob("*.py"))

_EXPECTED_RTX = {
    "tensorrt.OnnxParser", "Builder.create_network (call)", "OnnxParser.supports_model_v2 (call)",
    "OnnxParser.get_subgraph_nodes (call)", "OnnxParser.is_subgraph_supported (call)", "OnnxParser.num_subgraphs",
    "OnnxParser.num_errors", "OnnxParser.get_error (call)", "ParserError.node (call)", "ParserError.node_name (call)",
    "ParserError.node_operator (call)", "ParserError.func (call)", "ParserError.code (call)", "ParserError.desc (call)",
    "ParserError.file (call)", "ParserError.line (call)", "ParserError.local_function_stack (call)",
    "ParserError.local_function_stack_size (call)", "ILogger.log (override)", "IErrorRecorder.report_error (override)",
    "IProgressMonitor.step_complete (override)", "IProfiler.report_layer_time (override)",
}


@pytest.fixture(scope="module")
def rtx_dump(tmp_path_factory) -> dict:
    if importlib.util.find_spec("tensorrt_rtx_bindings") is None:
        pytest.skip("TensorRT-RTX is not installed (make setup installs it)")
    out = tmp_path_factory.mktemp("rtx_api") / "api-rtx.json"
    import subprocess

    proc = subprocess.run([sys.executable, str(TRT_API / "introspect.py"), "--rtx", str(out)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


def test_tensorrt_rtx_api_conformance_of_explorer_trt(rtx_dump):
    """Every TensorRT API explorer/trt uses (the parser path, the interfaces, the probe) exists in
    TensorRT-RTX's real bindings, with the arities and keywords used."""
    files = {str(p.relative_to(REPO)): p.read_text() for p in RTX_FILES}
    report = checker.check(files, [rtx_dump])[0]
    print(report.summary())
    errors = "\n".join(f"  {f.file}:{f.line}: {f.message}" for f in report.errors)
    assert not report.errors, f"explorer/trt uses API that TensorRT-RTX {rtx_dump['version']} does not have:\n{errors}"
    assert rtx_dump["version"].startswith("1.")
    assert _EXPECTED_RTX <= report.uses, sorted(_EXPECTED_RTX - report.uses)
    assert "OnnxParser.supports_model (call)" not in report.uses  # 10.0's branch: hasattr decided it


def test_checker_rejects_tensorrt_only_api_on_tensorrt_rtx(rtx_dump):
    """TensorRT-RTX has no INT8 builder flag and no ``supports_model``: the checker says so."""
    snippet = textwrap.dedent("""
        def build(config, parser):
            config.set_flag(trt.BuilderFlag.INT8)
            parser = trt.OnnxParser(trt.Builder(trt.Logger()).create_network(0), trt.Logger())
            parser.supports_model(b"")
    """)
    errors = [f.message for f in checker.check(snippet, [rtx_dump])[0].errors]
    assert any("BuilderFlag.INT8 does not exist" in e for e in errors), errors
    assert any("OnnxParser.supports_model does not exist" in e for e in errors), errors


def test_available_explains_a_missing_tensorrt():
    if importlib.util.find_spec("tensorrt") is not None:
        pytest.skip("a tensorrt module is importable here")
    from explorer import trt as face

    face.reset_availability_cache()
    ok, why = face.available(require_gpu=False)
    assert ok is False and "not installed" in why
    assert face.available() == (False, why) or face.available()[0] is False
    assert face.installed_version() is None


def test_import_failure_names_the_missing_library():
    from explorer.trt import describe_import_failure

    why = describe_import_failure(
        ImportError("libnvinfer.so.10: cannot open shared object file: No such file or directory"))
    assert why.startswith("the tensorrt Python bindings import but libnvinfer.so.10 is missing")


def test_build_settings_round_trip_and_validation():
    from explorer.backends.settings import BuildSettings
    from explorer.errors import ExplorerError

    settings = BuildSettings(precision="fp16", opt_level=5, workspace=1 << 30,
                             shapes={"x": ((1, 3, 64, 64), (4, 3, 224, 224), (8, 3, 512, 512))})
    settings.validate()
    again = BuildSettings.from_dict(json.loads(json.dumps(settings.to_dict())))
    assert again == settings
    for bad in (dict(precision="fp64"), dict(opt_level=7), dict(workspace=0),
                dict(shapes={"x": ((1, 3), (2, 3), (1, 3))})):
        with pytest.raises(ExplorerError):
            BuildSettings(**bad).validate()
    with pytest.raises(ExplorerError):
        BuildSettings.from_dict({"precision": "fp16", "no_such_setting": 1})
