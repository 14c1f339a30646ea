"""Real TensorRT Python bindings over stub libraries: an importable ``tensorrt`` without TensorRT.

Steps (each cached where it is safe to):

1. the ``tensorrt-cu12-bindings`` wheels are downloaded once into ``$EXPLORER_WHEEL_CACHE``
   (default ``<repo>/.cache/wheels``) with ``pip download``;
2. ``stubs.c`` is compiled with gcc into ``libnvinfer.so.N``, ``libnvonnxparser.so.N`` and
   ``libnvinfer_plugin.so.N`` (N = the TensorRT major version);
3. the wheel is installed with ``pip install --no-deps --no-index --target DIR`` and given the same
   ``tensorrt`` front module NVIDIA's ``tensorrt`` meta package installs (``from tensorrt_bindings import *``);
4. ``introspect.py`` runs in a subprocess with ``LD_LIBRARY_PATH`` on the stubs and dumps the API as JSON.

Command line (for ``make setup`` / CI warm-up and for looking at the API by hand)::

    python tests/trt_api/stubbed_env.py --download          # fill the wheel cache, nothing else
    python tests/trt_api/stubbed_env.py --dump OUT_DIR      # api-<version>.json for every version
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PACKAGE = "tensorrt-cu12-bindings"

#: The bindings the conformance check runs against: the oldest 10.x (branches for APIs that appeared in
#: 10.1+), the newest 10.x, and 11.x (strongly typed only).
VERSIONS: dict[str, str] = {
    "10.0": "10.0.1",
    "10.16": "10.16.1.11",
    "11.4": "11.4.0.106",
}

_LIBS = {"nvinfer": "STUB_NVINFER", "nvonnxparser": "STUB_NVONNXPARSER", "nvinfer_plugin": "STUB_NVINFER_PLUGIN"}
_FRONT_MODULE = "from tensorrt_bindings import *  # noqa: F401,F403\nfrom tensorrt_bindings import __version__  # noqa: F401\n"


class EnvironmentProblem(RuntimeError):
    """The stubbed environment cannot be set up (no wheel and no network, no gcc, ...)."""


class WheelUnavailable(EnvironmentProblem):
    """A bindings wheel is neither cached nor downloadable."""


def wheel_cache() -> Path:
    return Path(os.environ.get("EXPLORER_WHEEL_CACHE") or REPO / ".cache" / "wheels")


def offline() -> bool:
    return os.environ.get("EXPLORER_OFFLINE", "") == "1"


def _python_tag() -> str:
    return f"cp{sys.version_info.major}{sys.version_info.minor}"


def cached_wheel(version: str, cache: Path | None = None) -> Path | None:
    cache = cache or wheel_cache()
    name = PACKAGE.replace("-", "_")
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")  # linux_x86_64
    arch = platform.split("_", 1)[-1]
    for wheel in sorted(cache.glob(f"{name}-{version}-*.whl")):
        parts = wheel.name[:-4].split("-")
        if len(parts) >= 5 and parts[2] in (_python_tag(), "py3") and parts[-1].endswith(arch):
            return wheel
    return None


def ensure_wheel(version: str, cache: Path | None = None) -> Path:
    """The cached wheel for ``version``, downloading it with pip first if needed."""
    cache = cache or wheel_cache()
    found = cached_wheel(version, cache)
    if found:
        return found
    if offline():
        raise WheelUnavailable(f"{PACKAGE}=={version} is not in the wheel cache {cache} and EXPLORER_OFFLINE=1")
    cache.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
           "-q", "-d", str(cache), f"{PACKAGE}=={version}"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired as exc:
        raise WheelUnavailable(f"pip download {PACKAGE}=={version} timed out after 300 s") from exc
    found = cached_wheel(version, cache)
    if proc.returncode != 0 or not found:
        raise WheelUnavailable(
            f"could not download {PACKAGE}=={version} into {cache} (is PyPI reachable? set EXPLORER_WHEEL_CACHE to a "
            f"folder holding the wheel, or EXPLORER_OFFLINE=1 to skip):\n{proc.stderr.strip()[-2000:]}")
    return found


def build_stubs(major: int, out_dir: Path) -> Path:
    """Compile ``stubs.c`` into the three libraries the bindings link, named for TensorRT ``major``."""
    gcc = shutil.which(os.environ.get("CC", "gcc")) or shutil.which("cc")
    if not gcc:
        raise EnvironmentProblem("no C compiler (gcc or cc) on PATH: it builds the stub TensorRT libraries "
                                 "(apt-get install gcc)")
    out_dir.mkdir(parents=True, exist_ok=True)
    for lib, macro in _LIBS.items():
        target = out_dir / f"lib{lib}.so.{major}"
        cmd = [gcc, "-shared", "-fPIC", "-O0", f"-D{macro}", f"-Wl,-soname,{target.name}", "-o", str(target),
               str(HERE / "stubs.c")]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise EnvironmentProblem(f"building {target.name} failed:\n{proc.stderr}")
    return out_dir


def install_bindings(wheel: Path, target: Path) -> Path:
    """``pip install --no-deps --target`` the bindings wheel and add the ``tensorrt`` front module."""
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--disable-pip-version-check", "-q",
           "--no-compile", "--target", str(target), str(wheel)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise EnvironmentProblem(f"pip install {wheel.name} failed:\n{proc.stderr.strip()[-2000:]}")
    front = target / "tensorrt"
    front.mkdir(exist_ok=True)
    (front / "__init__.py").write_text(_FRONT_MODULE)
    return target


@dataclass
class StubbedTensorRT:
    """One version's bindings, importable as ``tensorrt`` with ``env`` (LD_LIBRARY_PATH, PYTHONPATH)."""

    version: str
    site: Path
    libs: Path

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (str(self.libs), env.get("LD_LIBRARY_PATH", "")) if p)
        env["PYTHONPATH"] = str(self.site)
        env["PYTHONNOUSERSITE"] = "1"
        return env

    def run(self, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def dump_api(self, out: Path | None = None) -> dict:
        out = out or self.site.parent / f"api-{self.version}.json"
        proc = self.run(str(HERE / "introspect.py"), str(out))
        if proc.returncode != 0:
            raise EnvironmentProblem(f"introspecting tensorrt {self.version} over the stub libraries failed:\n"
                                     f"{proc.stderr.strip()[-3000:]}")
        return json.loads(out.read_text())


#: TensorRT-RTX is installed for real (its libraries are real wheels): its API is dumped from the real module,
#: importable as ``tensorrt`` through a front module like the one above
_RTX_FRONT_MODULE = ("import tensorrt_rtx_libs  # noqa: F401  (loads libtensorrt_rtx)\n"
                     "from tensorrt_rtx_bindings import *  # noqa: F401,F403\n"
                     "from tensorrt_rtx_bindings import __version__  # noqa: F401\n")


def rtx_version() -> str | None:
    """The installed TensorRT-RTX bindings' version, or None."""
    from importlib import metadata

    for name in ("tensorrt-rtx-cu13-bindings", "tensorrt-rtx-cu12-bindings"):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def prepare_rtx(workdir: Path) -> StubbedTensorRT:
    """The installed TensorRT-RTX as ``tensorrt`` (no stubs: its real libraries load without a GPU)."""
    version = rtx_version()
    if version is None:
        raise EnvironmentProblem("TensorRT-RTX bindings are not installed (tensorrt-rtx-cu13-bindings)")
    site = workdir / f"rtx-{version}" / "site"
    (site / "tensorrt").mkdir(parents=True, exist_ok=True)
    (site / "tensorrt" / "__init__.py").write_text(_RTX_FRONT_MODULE)
    libs = workdir / f"rtx-{version}" / "lib"
    libs.mkdir(parents=True, exist_ok=True)
    return StubbedTensorRT(version=version, site=site, libs=libs)


def prepare(version: str, workdir: Path) -> StubbedTensorRT:
    """Wheel (cached), stubs and install for one full version string, e.g. ``"11.4.0.106"``."""
    wheel = ensure_wheel(version)
    major = int(version.split(".")[0])
    root = workdir / version
    libs = build_stubs(major, root / "lib")
    site = install_bindings(wheel, root / "site")
    return StubbedTensorRT(version=version, site=site, libs=libs)


def main(argv: list[str]) -> int:
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--download", action="store_true", help="only fill the wheel cache")
    parser.add_argument("--dump", metavar="DIR", help="write api-<version>.json for every version into DIR")
    args = parser.parse_args(argv[1:])
    try:
        for version in VERSIONS.values():
            wheel = ensure_wheel(version)
            print(f"{PACKAGE}=={version}: {wheel}")
        if args.dump:
            out = Path(args.dump)
            out.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory() as tmp:
                for version in VERSIONS.values():
                    env = prepare(version, Path(tmp))
                    env.dump_api(out / f"api-{version}.json")
                    print(f"wrote {out / f'api-{version}.json'}")
    except EnvironmentProblem as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
