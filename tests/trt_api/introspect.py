"""Dump the TensorRT Python API (classes, enums, methods, properties, signatures) as JSON.

Run inside an environment where ``import tensorrt`` works, e.g. the real bindings wheel over the stub
libraries built from ``stubs.c`` (see ``stubbed_env.py``)::

    LD_LIBRARY_PATH=stubs/10 PYTHONPATH=site/10 python introspect.py api-10.json

or, with ``--rtx``, the real TensorRT-RTX bindings and libraries of the current environment::

    python introspect.py --rtx api-rtx.json

Nothing here calls into TensorRT: it only reads what pybind11 registered (``dir()``, ``__doc__``
signatures, enum ``__members__``), so it works over libraries whose entry points all return NULL.

The dump::

    {"version": "10.16.1.11",
     "module":  {name: {"kind": "class" | "enum" | "function" | "value" | "module", ...}},
     "classes": {qualname: {"bases": [...], "enum_members": [...] | None,
                            "members": {name: {"kind": "method" | "staticmethod" | "property" | "class" |
                                                        "value" | "dunder", ...}}}},
     "functions": {name: [signature, ...]}}

A signature is ``{"params": [{"name", "type", "default": bool, "kind": "positional" | "var_positional" |
"var_keyword"}], "returns": type}``; type strings are normalised to qualnames inside the module
(``IBuilderConfig``, ``ILogger.Severity``, ``list[TimingCacheKey]``); ``self`` is dropped from methods.
"""

from __future__ import annotations

import enum
import inspect
import json
import re
import sys
from typing import Any

#: Where pybind11 says the classes live, longest first (stripped from type strings).
_MODULE_NAMES = ("tensorrt_rtx_bindings.tensorrt_rtx", "tensorrt_bindings.tensorrt", "tensorrt.tensorrt",
                 "tensorrt_rtx_bindings", "tensorrt_bindings", "tensorrt")

_DUNDERS_KEPT = {"__init__", "__call__", "__len__", "__getitem__", "__iter__", "__int__", "__index__",
                 "__str__", "__enter__", "__exit__"}


def normalise_type(text: str, module_names: tuple[str, ...], class_names: set[str]) -> str:
    """``tensorrt_bindings.tensorrt.IBuilderConfig`` -> ``IBuilderConfig``; ``nvonnxparser::IParserError`` ->
    ``ParserError`` (pybind11 prints the C++ name when a type was registered under another name)."""
    text = text.strip()
    for prefix in module_names:
        text = text.replace(prefix + ".", "")
    text = re.sub(r"\btyping\.", "", text)

    def cpp(match: re.Match) -> str:
        name = match.group(0).split("::")[-1]
        for candidate in (name, name[1:] if name.startswith("I") else name):
            if candidate in class_names:
                return candidate
        return name

    return re.sub(r"[A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)+", cpp, text)


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split at ``sep`` outside brackets (``[]``, ``()``, ``{}``, ``<>``)."""
    parts, depth, current = [], 0, []
    for ch in text:
        if ch in "[({<":
            depth += 1
        elif ch in "])}>":
            depth = max(0, depth - 1)
        if ch == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if "".join(current).strip():
        parts.append("".join(current))
    return [p.strip() for p in parts]


def parse_param(text: str) -> dict[str, Any]:
    kind = "positional"
    if text.startswith("**"):
        kind, text = "var_keyword", text[2:]
    elif text.startswith("*"):
        kind, text = "var_positional", text[1:]
    default = False
    head = text
    eq = _find_top_level(text, " = ")
    if eq >= 0:
        head, default = text[:eq], True
    name, _, type_text = head.partition(":")
    return {"name": name.strip(), "type": type_text.strip() or None, "default": default, "kind": kind}


def _find_top_level(text: str, needle: str) -> int:
    depth = 0
    for i, ch in enumerate(text):
        if ch in "[({<":
            depth += 1
        elif ch in "])}>":
            depth = max(0, depth - 1)
        elif depth == 0 and text.startswith(needle, i):
            return i
    return -1


def parse_signatures(name: str, doc: str | None) -> list[dict[str, Any]]:
    """Every ``name(params) -> ret`` line of a pybind11 docstring (one per overload)."""
    if not doc:
        return []
    pattern = re.compile(r"^(?:\d+\.\s+)?" + re.escape(name) + r"\((.*)\)\s*->\s*(.+?)\s*$")
    signatures = []
    for line in doc.splitlines():
        match = pattern.match(line.strip())
        if not match:
            continue
        params = [parse_param(p) for p in split_top_level(match.group(1))] if match.group(1).strip() else []
        params = [p for p in params if p["name"] not in ("/", "*")]  # positional-only / keyword-only markers
        if params and params[0]["kind"] == "var_positional" and len(params) == 2 and \
                params[1]["kind"] == "var_keyword" and "Overloaded function" in doc:
            continue  # the "name(*args, **kwargs)" header of an overload set
        signatures.append({"params": params, "returns": match.group(2)})
    return signatures


def python_signature(func) -> list[dict[str, Any]]:
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return []
    params = []
    for p in sig.parameters.values():
        kind = {inspect.Parameter.VAR_POSITIONAL: "var_positional",
                inspect.Parameter.VAR_KEYWORD: "var_keyword"}.get(p.kind, "positional")
        params.append({"name": p.name, "type": None, "default": p.default is not inspect.Parameter.empty,
                       "kind": kind})
    return [{"params": params, "returns": None}]


def is_enum(cls: type) -> bool:
    """pybind11 ``py::enum_`` classes expose a ``__members__`` dict; ``py::native_enum`` ones are ``enum.Enum``."""
    return isinstance(cls, enum.EnumMeta) or isinstance(getattr(cls, "__members__", None), dict)


def dump(trt) -> dict[str, Any]:
    classes: dict[str, type] = {}

    def collect(owner_prefix: str, obj) -> None:
        for attr in dir(obj):
            if attr.startswith("__"):
                continue
            value = getattr(obj, attr, None)
            if isinstance(value, type) and getattr(value, "__module__", "").startswith("tensorrt"):
                qual = f"{owner_prefix}{attr}" if owner_prefix else attr
                if value.__qualname__ not in classes and qual not in classes:
                    classes[value.__qualname__] = value
                    collect(value.__qualname__ + ".", value)

    collect("", trt)
    class_names = set(classes)

    def norm(text: str | None) -> str | None:
        return normalise_type(text, _MODULE_NAMES, class_names) if text else text

    def norm_sigs(sigs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for sig in sigs:
            sig["returns"] = norm(sig["returns"])
            params = sig["params"]
            if params and params[0]["name"] == "self":
                params.pop(0)
            for p in params:
                p["type"] = norm(p["type"])
        return sigs

    out_classes: dict[str, Any] = {}
    for qual, cls in sorted(classes.items()):
        members: dict[str, Any] = {}
        enum_members = list(cls.__members__) if is_enum(cls) else None
        for name in dir(cls):
            if name.startswith("__") and name not in _DUNDERS_KEPT:
                continue
            raw = inspect.getattr_static(cls, name, None)
            value = getattr(cls, name, None)
            if name.startswith("__"):
                if callable(value):
                    members[name] = {"kind": "dunder", "signatures": norm_sigs(
                        parse_signatures(name, getattr(value, "__doc__", None)) or python_signature(value))}
                continue
            if isinstance(raw, property):
                fget_doc = raw.fget.__doc__ if raw.fget is not None else None
                type_text = None
                if fget_doc:
                    match = re.match(r"\s*\(.*?\)\s*->\s*(.+)", fget_doc.strip().splitlines()[0])
                    type_text = match.group(1) if match else None
                members[name] = {"kind": "property", "type": norm(type_text), "settable": raw.fset is not None}
            elif isinstance(raw, staticmethod) or isinstance(raw, classmethod):
                members[name] = {"kind": "staticmethod", "signatures": norm_sigs(
                    parse_signatures(name, getattr(value, "__doc__", None)) or python_signature(value))}
            elif isinstance(value, type):
                members[name] = {"kind": "class", "ref": value.__qualname__}
            elif callable(value) and not (enum_members is not None and name in enum_members):
                members[name] = {"kind": "method", "signatures": norm_sigs(
                    parse_signatures(name, getattr(value, "__doc__", None)) or python_signature(value))}
            else:
                members[name] = {"kind": "value", "type": type(value).__qualname__
                                 if type(value).__qualname__ in class_names else None}
        bases = [b.__qualname__ for b in cls.__mro__[1:] if b.__qualname__ in class_names]
        out_classes[qual] = {"bases": bases, "enum_members": enum_members, "members": members}

    module: dict[str, Any] = {}
    functions: dict[str, Any] = {}
    for name in dir(trt):
        if name.startswith("__") and name != "__version__":
            continue
        value = getattr(trt, name)
        if isinstance(value, type):
            if value.__qualname__ in class_names:
                module[name] = {"kind": "enum" if is_enum(value) else "class", "ref": value.__qualname__}
            else:
                module[name] = {"kind": "value", "type": None}
        elif inspect.ismodule(value):
            module[name] = {"kind": "module"}
        elif callable(value):
            module[name] = {"kind": "function"}
            functions[name] = norm_sigs(parse_signatures(name, getattr(value, "__doc__", None))
                                        or python_signature(value))
        else:
            module[name] = {"kind": "value", "type": type(value).__qualname__
                            if type(value).__qualname__ in class_names else None}
    return {"version": trt.__version__, "python": sys.version.split()[0], "module": module,
            "classes": out_classes, "functions": functions}


def main(argv: list[str]) -> int:
    if "--rtx" in argv:  # TensorRT-RTX: its real libraries (PyPI) load first, then the same-shaped bindings
        argv = [a for a in argv if a != "--rtx"]
        import tensorrt_rtx_libs  # noqa: F401
        import tensorrt_rtx_bindings as trt
    else:
        import tensorrt as trt  # noqa: the whole point

    data = dump(trt)
    text = json.dumps(data, indent=1, sort_keys=True)
    if len(argv) > 1:
        with open(argv[1], "w", encoding="utf-8") as f:
            f.write(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
