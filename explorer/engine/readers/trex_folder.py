"""A folder of per-engine artifacts as TREx (and Torch-TensorRT's debugger) lays them out.

TREx's ``utils/process_engine.py`` names every file after the engine path ``E``: ``E.graph.json``
(``--exportLayerInfo``), ``E.profile.json`` (``--exportProfile``), ``E.timing.json`` (``--exportTimes``),
``E.build.metadata.json`` and ``E.profile.metadata.json`` (what it parsed from trtexec's build and profiling
logs), ``E.build.log`` / ``E.profile.log`` (the logs). Torch-TensorRT's ``Debugger(profile_format="trex")``
writes ``N_engine_layer_information.json`` and ``N_engine_execution_profile.trace`` (the same two JSON
documents) per TensorRT engine ``N``. A folder may hold several engines; other files (a README) are left
alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ...errors import ArtifactError
from ..report import EngineMetadata, EngineReport
from .common import load_json, sniff

#: file name ending -> kind, longest first (``.profile.metadata.json`` before ``.profile.json`` ...)
SUFFIXES = (
    (".build.metadata.json", "build-metadata"),
    (".profile.metadata.json", "profile-metadata"),
    (".graph.json", "graph"),
    (".profile.json", "profile"),
    (".timing.json", "times"),
    (".build.log", "log"),
    (".profile.log", "profile-log"),
    ("_engine_layer_information.json", "graph"),  # Torch-TensorRT
    ("_engine_execution_profile.trace", "profile"),  # Torch-TensorRT, profile_format="trex"
)
#: the kinds an engine needs at least one of to be listed
PRIMARY = ("graph", "profile", "times")


@dataclass
class EngineFiles:
    """The files of one engine in a folder, by kind (see :data:`SUFFIXES`)."""

    name: str
    files: dict[str, str] = field(default_factory=dict)


def scan_folder(folder: str | os.PathLike) -> dict[str, EngineFiles]:
    """Engine name -> its files; an :class:`ArtifactError` for a folder that is not one or has no engine, or
    two files of one kind for one engine (TREx's and Torch-TensorRT's names mixed)."""
    path = os.fspath(folder)
    if not os.path.isdir(path):
        raise ArtifactError("not a folder", file=path)
    try:
        names = sorted(os.listdir(path))
    except OSError as exc:
        raise ArtifactError(f"cannot list the folder: {exc.strerror or exc}", file=path) from None
    engines: dict[str, EngineFiles] = {}
    for name in names:
        full = os.path.join(path, name)
        if not os.path.isfile(full):
            continue
        for suffix, kind in SUFFIXES:
            if name.endswith(suffix) and len(name) > len(suffix):
                stem = name[: -len(suffix)]
                entry = engines.setdefault(stem, EngineFiles(stem))
                if kind in entry.files:
                    raise ArtifactError(f"mixed layouts: engine {stem!r} has two {kind} files "
                                        f"({os.path.basename(entry.files[kind])} and {name})", file=path,
                                        hint="keep one layout (TREx's *.graph.json or Torch-TensorRT's "
                                             "*_engine_layer_information.json) per engine")
                entry.files[kind] = full
                break
    found = {stem: e for stem, e in engines.items() if any(k in e.files for k in PRIMARY)}
    if not found:
        raise ArtifactError("no engine artifacts in this folder (TREx layout: E.graph.json, E.profile.json, "
                            "E.timing.json, E.build.metadata.json, E.profile.metadata.json)", file=path)
    return found


def list_engines(folder: str | os.PathLike) -> list[str]:
    """The names of the engines a TREx-layout folder holds, sorted."""
    return sorted(scan_folder(folder))


def read_trex_folder(folder: str | os.PathLike, engine: str | None = None) -> EngineReport:
    """One engine of the folder as one report: layers, latency, end-to-end times and metadata, every figure's
    source naming its file. ``engine`` picks one by name; it may be left out when there is one."""
    from . import read_build_log, read_layer_info, read_profile, read_times

    path = os.fspath(folder)
    engines = scan_folder(path)
    if engine is None:
        if len(engines) > 1:
            raise ArtifactError(f"the folder holds {len(engines)} engines ({', '.join(sorted(engines))}): pick "
                                "one by name (engine=NAME; CLI --engine NAME)", file=path)
        engine = next(iter(engines))
    if engine not in engines:
        raise ArtifactError(f"no engine named {engine!r} (the folder holds {', '.join(sorted(engines))})", file=path)
    files = engines[engine].files
    for kind, expected in (("graph", "layer-info"), ("profile", "profile"), ("times", "times")):
        if kind in files:
            _check_kind(files[kind], expected)
    parts = []
    if "graph" in files:
        parts.append(read_layer_info(files["graph"]))
    if "profile" in files:
        parts.append(read_profile(files["profile"]))
    if "times" in files:
        parts.append(read_times(files["times"]))
    if "log" in files:
        parts.append(read_build_log(files["log"]))
    if "profile" not in files and "profile-log" in files:  # the profiling run's log, with --dumpProfile
        from .dump_profile import log_has_profile_table, read_dump_profile

        if log_has_profile_table(files["profile-log"]):
            parts.append(read_dump_profile(files["profile-log"]))
    report = EngineReport.merge(*parts)
    report.metadata = report.metadata.merged(_metadata(files))
    for section, source in report.metadata.sources.items():
        report.provenance[f"metadata.{section}"] = source
    return report


def _check_kind(file: str, expected: str) -> None:
    """A file whose name says one kind but whose JSON is another is refused by name (a mixed-up folder)."""
    if os.path.getsize(file) > 32 * 1024**2:
        return  # big exports are streamed by their reader, which checks as it goes
    obj, _ = load_json(file)
    found = sniff(obj)
    if found is not None and found != expected:
        hint = None
        if file.endswith("_engine_execution_profile.trace") and found == "chrome-trace":
            hint = ("Torch-TensorRT wrote its perfetto trace here: profile with profile_format=\"trex\" for the "
                    "per-layer profile TREx reads")
        raise ArtifactError(f"named as {expected} but holds {found} JSON: the folder's files are mixed up",
                            file=file, hint=hint)


def _metadata(files: dict[str, str]) -> EngineMetadata:
    meta = EngineMetadata()
    for kind in ("build-metadata", "profile-metadata"):
        file = files.get(kind)
        if not file:
            continue
        obj, _ = load_json(file)
        if not isinstance(obj, dict):
            raise ArtifactError(f"expected a JSON object of sections, found a {type(obj).__name__}", file=file)
        source = f"TREx {kind.replace('-', ' ')} {os.path.basename(file)}"
        for section, values in obj.items():
            if not isinstance(values, dict):
                continue
            meta.sections[str(section)] = {str(k): _text(v) for k, v in values.items()}
            meta.sources[str(section)] = source
    return meta


def _text(value) -> str:
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    return str(value)


__all__ = ["EngineFiles", "PRIMARY", "SUFFIXES", "list_engines", "read_trex_folder", "scan_folder"]
