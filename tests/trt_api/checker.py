"""Check a module's use of the TensorRT Python API against the real API of one TensorRT version.

The input is Python source - one module, or several read as one (``explorer/trt/*.py`` and
``explorer/backends/tensorrt/*.py``: functions are found by name across the files, findings name their file)
- and an API dump made by ``introspect.py`` from the real bindings. Nothing is imported or run: the source
is read with ``ast`` and interpreted abstractly, once per version:

- ``trt`` is the ``tensorrt`` module (as is any ``import tensorrt as X``); every attribute chain from it is
  checked (``trt.BuilderFlag.FP16`` needs the class ``BuilderFlag`` and its member ``FP16``);
- values get TensorRT types from constructors (``trt.Builder(...)`` is a ``Builder``), from the return
  types in the pybind11 signatures (``Builder.create_builder_config(self) -> IBuilderConfig``), from
  property types, list element types (``for key in cache.queryKeys()``), annotations
  (``engine: trt.ICudaEngine``), the module's own functions (argument types flow from call sites into
  parameters, return types flow back), attributes the module's own classes keep on ``self``
  (``self.builder = create_builder(...)``, read in another method), so methods and properties used on
  them are checked too, along with
  the number of arguments and keyword names of every call, and that assigned properties have a setter;
- a value whose TensorRT type cannot be worked out (a signature returning ``object``) is an error when
  something is looked up on it: annotate it, so nothing slips past unchecked;
- conditions on the version (``major``/``minor`` from ``major, minor = version_of(trt)``, tuples of them,
  ``version_of(trt)``; ``_version`` is read the same way) and ``hasattr(x, "name")`` on a value of known type are evaluated for the version at
  hand, and only the branch taken is checked (other conditions: both branches); a private function is
  checked only for versions in which some checked code calls it;
- calls of Polygraphy names imported from ``polygraphy...`` are checked against Polygraphy's signatures and
  stand for the TensorRT API Polygraphy uses for them (``tests/trt_api/polygraphy_uses.py``, read from
  Polygraphy's source): ``CreateConfig(memory_pool_limits=...)`` needs ``IBuilderConfig.set_memory_pool_limit``
  in the version at hand, checked like a use in the module itself;
- a class deriving from a TensorRT class (``trt.IProgressMonitor``, ``trt.ILogger``...) must define
  exactly the methods the interface declares (same number of parameters; other methods must start with
  ``_``) and call the base ``__init__``.

:func:`check` gives one :class:`VersionReport` per API; :func:`unverified_branches` lists code that no
version checked (a condition false for every version).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

# A value's type is a frozenset of tuples (several when branches disagree; empty when not TensorRT's):
# ("module",) tensorrt itself, ("class", q) a class object, ("inst", q) an instance, ("list", q) a list of
# instances, ("method", q, name) / ("cmethod", q, name) a bound / class-level method, ("func", name) a
# module function, ("opaque", text) TensorRT gave something the checker cannot type, ("local", name) one
# of the checked module's own functions.

_EMPTY: frozenset = frozenset()
_MODULE: frozenset = frozenset({("module",)})
_BUILTIN_TYPES = {"int", "float", "str", "bool", "bytes", "None", "tuple", "list", "dict", "set", "SupportsInt",
                  "SupportsFloat", "typing_extensions.Buffer", "Buffer", "numpy.ndarray", "capsule", "memoryview",
                  "bytearray", "Sequence", "Iterable", "Callable", "Any", "int64", "float32",
                  "typing_extensions.CapsuleType", "CapsuleType"}
_VERSION_NAMES = {"major": 0, "minor": 1}
_VERSION_FUNCTIONS = {"_version", "version_of"}


@dataclass
class Finding:
    version: str
    line: int
    message: str
    file: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.file else f"line {self.line}"
        return f"{where}: [{self.version}] {self.message}"


@dataclass
class VersionReport:
    version: str
    errors: list[Finding] = field(default_factory=list)
    uses: set[str] = field(default_factory=set)  # "IBuilderConfig.set_flag", "BuilderFlag.FP16", "tensorrt.OnnxParser"
    reached_functions: set[str] = field(default_factory=set)
    branches: dict[tuple[str, int, int, str], bool] = field(default_factory=dict)  # (file, line, col, part) -> taken
    static_branches: set[tuple[str, int, int]] = field(default_factory=set)  # conditions decided for this version

    def counts(self) -> dict[str, int]:
        """How many distinct things were checked, by kind."""
        out = {"module names": 0, "members": 0, "calls": 0, "property sets": 0, "overrides": 0, "hasattr": 0}
        for use in self.uses:
            if use.startswith("tensorrt."):
                out["module names"] += 1
            elif use.endswith("(call)"):
                out["calls"] += 1
            elif use.endswith("(set)"):
                out["property sets"] += 1
            elif use.endswith("(override)"):
                out["overrides"] += 1
            elif use.startswith("hasattr "):
                out["hasattr"] += 1
            elif " " not in use:
                out["members"] += 1
        return out

    def summary(self) -> str:
        counts = ", ".join(f"{n} {kind}" for kind, n in self.counts().items())
        return (f"TensorRT {self.version}: {len(self.uses)} uses checked ({counts}) in "
                f"{len(self.reached_functions)} functions; {len(self.errors)} errors")


class Api:
    """One version's dump (see introspect.py)."""

    def __init__(self, dump: dict[str, Any]):
        self.dump = dump
        self.version: str = dump["version"]
        parts = self.version.split(".")
        self.major, self.minor = int(parts[0]), int(parts[1])
        self.module: dict[str, Any] = dump["module"]
        self.classes: dict[str, Any] = dump["classes"]
        self.functions: dict[str, Any] = dump["functions"]

    def member(self, qual: str, name: str) -> dict[str, Any] | None:
        cls = self.classes.get(qual)
        if cls is None:
            return None
        return cls["members"].get(name)

    def type_from_text(self, text: str | None) -> frozenset:
        if not text:
            return _EMPTY
        text = text.strip()
        optional = re.fullmatch(r"Optional\[(.+)\]", text)
        if optional:
            return self.type_from_text(optional.group(1))
        from_introspect = _split_union(text)
        if len(from_introspect) > 1:
            out: set = set()
            for part in from_introspect:
                if part != "None":
                    out |= self.type_from_text(part)
            return frozenset(out)
        seq = re.fullmatch(r"(?:list|List|(?:collections\.abc\.)?(?:Sequence|Iterator|Iterable))\[(.+)\]", text)
        if seq:
            inner = self.type_from_text(seq.group(1))
            return frozenset(("list", t[1]) for t in inner if t[0] == "inst")
        if text in self.classes:
            return frozenset({("inst", text)})
        head = re.split(r"[\[(]", text, 1)[0]
        if head in _BUILTIN_TYPES or head in {"Tuple", "tuple", "Dict", "dict", "List", "list", "Set", "set"}:
            return _EMPTY
        return frozenset({("opaque", text)})


def _split_union(text: str) -> list[str]:
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "|" and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur).strip())
    return parts


@dataclass
class _Func:
    node: ast.FunctionDef | ast.AsyncFunctionDef
    public: bool
    is_method: bool
    reached: bool = False
    closure: dict[str, frozenset] = field(default_factory=dict)
    params: dict[str, frozenset] = field(default_factory=dict)
    returns: frozenset = _EMPTY


class _Analyzer:
    def __init__(self, tree: ast.Module, api: Api, polygraphy: dict[str, Any] | None = None):
        self.tree = tree
        self.api = api
        self.polygraphy = polygraphy or {}
        self.record = False
        self.changed = False
        self.report = VersionReport(api.version)
        self._errors: set[tuple[str, int, str]] = set()
        self.funcs: dict[int, _Func] = {}
        self.by_name: dict[str, list[_Func]] = {}
        self.current: list[_Func] = []
        # ``self.<attr> = value`` in the explorer's own classes, by attribute name (classes merged): a
        # Builder kept on ``self`` is still a Builder when another method reads it
        self.self_attrs: dict[str, frozenset] = {}
        self._register(tree.body)

    # ---------------------------------------------------------------- registry

    def _register(self, body: list[ast.stmt]) -> None:
        for node in ast.walk(ast.Module(body=body, type_ignores=[])):
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        self.funcs[id(item)] = _Func(item, public=True, is_method=True)
        for node in ast.walk(ast.Module(body=body, type_ignores=[])):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and id(node) not in self.funcs:
                public = not node.name.startswith("_") and node in body
                func = _Func(node, public=public, is_method=False)
                self.funcs[id(node)] = func
                self.by_name.setdefault(node.name, []).append(func)

    # ---------------------------------------------------------------- driver

    def run(self) -> VersionReport:
        for _ in range(30):
            self.changed = False
            self._pass()
            if not self.changed:
                break
        self.record = True
        self._pass()
        self.report.errors = [Finding(self.api.version, line, msg, file) for file, line, msg in sorted(self._errors)]
        return self.report

    def _pass(self) -> None:
        self._block(self.tree.body, {})
        done: set[int] = set()
        progress = True
        while progress:
            progress = False
            for key, func in list(self.funcs.items()):
                if key in done:
                    continue
                if func.public and not func.is_method and func.node in self.tree.body:
                    func.reached = True
                if not func.reached:
                    continue
                done.add(key)
                progress = True
                self._function(func)
        # Private functions nobody calls (dead code, or only called via getattr) are checked all the same.
        for key, func in list(self.funcs.items()):
            if key not in done and not func.reached and not func.is_method and not self._referenced(func):
                func.reached = True
                self._function(func)

    def _referenced(self, func: _Func) -> bool:
        name = func.node.name
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load):
                return True
        return False

    def _function(self, func: _Func) -> None:
        if self.record:
            self.report.reached_functions.add(func.node.name)
        env = dict(func.closure)
        args = func.node.args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
            types = func.params.get(arg.arg, _EMPTY)
            if arg.annotation is not None:
                types = types | self._annotation(arg.annotation, env)
            env[arg.arg] = types
        for extra in (args.vararg, args.kwarg):
            if extra is not None:
                env[extra.arg] = _EMPTY
        for default in [*args.defaults, *args.kw_defaults]:
            if default is not None:
                self.expr(default, env)
        self.current.append(func)
        try:
            self._block(func.node.body, env)
        finally:
            self.current.pop()

    def _annotation(self, node: ast.expr, env) -> frozenset:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            try:
                node = ast.parse(node.value, mode="eval").body
            except SyntaxError:
                return _EMPTY
        types = self.expr(node, env)
        return frozenset(("inst", t[1]) for t in types if t[0] == "class")

    # ---------------------------------------------------------------- findings

    def error(self, node: ast.AST, message: str) -> None:
        if self.record:
            self._errors.add((getattr(node, "_file", ""), getattr(node, "lineno", 0), message))

    def use(self, name: str) -> None:
        if self.record:
            self.report.uses.add(name)

    # ---------------------------------------------------------------- statements

    def _block(self, stmts: Iterable[ast.stmt], env: dict[str, frozenset]) -> None:
        for stmt in stmts:
            self.stmt(stmt, env)

    def stmt(self, node: ast.stmt, env: dict[str, frozenset]) -> None:
        if isinstance(node, ast.If):
            decided = self.condition(node.test, env)
            self._branch(node, decided)
            if decided is None:
                left, right = dict(env), dict(env)
                self._block(node.body, left)
                self._block(node.orelse, right)
                _merge_into(env, left, right)
            elif decided:
                self._block(node.body, env)
            else:
                self._block(node.orelse, env)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for deco in node.decorator_list:
                self.expr(deco, env)
            func = self.funcs.get(id(node))
            if func is not None:
                self._grow_closure(func, env)
            env[node.name] = frozenset({("local", node.name)})
        elif isinstance(node, ast.ClassDef):
            self._class(node, env)
        elif isinstance(node, ast.Assign):
            value = self.expr(node.value, env)
            for target in node.targets:
                self.assign(target, value, env)
        elif isinstance(node, ast.AnnAssign):
            value = self.expr(node.value, env) if node.value is not None else _EMPTY
            declared = self._annotation(node.annotation, env)
            self.assign(node.target, value | declared, env)
        elif isinstance(node, ast.AugAssign):
            self.expr(node.value, env)
            self.expr(node.target, env)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            it = self.expr(node.iter, env)
            elem = frozenset(("inst", t[1]) for t in it if t[0] == "list")
            self.assign(node.target, elem, env)
            self._block(node.body, env)
            self._block(node.body, env)  # a second time with the types the first round assigned
            self._block(node.orelse, env)
        elif isinstance(node, ast.While):
            self.condition(node.test, env)
            self._block(node.body, env)
            self._block(node.orelse, env)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                value = self.expr(item.context_expr, env)
                if item.optional_vars is not None:  # TensorRT objects' __enter__ returns self
                    self.assign(item.optional_vars, value, env)
            self._block(node.body, env)
        elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            self._block(node.body, env)
            for handler in node.handlers:
                if handler.type is not None:
                    self.expr(handler.type, env)
                if handler.name:
                    env[handler.name] = _EMPTY
                self._block(handler.body, env)
            self._block(node.orelse, env)
            self._block(node.finalbody, env)
        elif isinstance(node, ast.Return):
            if node.value is not None:
                value = self.expr(node.value, env)
                if self.current:
                    func = self.current[-1]
                    grown = func.returns | value
                    if grown != func.returns:
                        func.returns = grown
                        self.changed = True
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "tensorrt" or alias.name.startswith("tensorrt."):
                    self.use("import tensorrt")
                    env[alias.asname or alias.name.split(".")[0]] = _MODULE
        elif isinstance(node, ast.ImportFrom):
            if node.module == "tensorrt":
                for alias in node.names:
                    env[alias.asname or alias.name] = self.attribute(_MODULE, alias.name, node, store=False)
            elif node.module and node.module.split(".")[0] == "polygraphy":
                for alias in node.names:
                    env[alias.asname or alias.name] = frozenset({("poly", f"{node.module}.{alias.name}")})
        elif isinstance(node, ast.Match):
            self.expr(node.subject, env)
            for case in node.cases:
                self._block(case.body, env)
        else:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self.expr(child, env)
                elif isinstance(child, ast.stmt):
                    self.stmt(child, env)

    def _grow_closure(self, func: _Func, env: dict[str, frozenset]) -> None:
        for name, types in env.items():
            old = func.closure.get(name, _EMPTY)
            if not types <= old:
                func.closure[name] = old | types
                self.changed = True

    def _branch(self, node: ast.AST, decided: bool | None) -> None:
        if not self.record:
            return
        key = (getattr(node, "_file", ""), node.lineno, node.col_offset)
        if decided is not None:
            self.report.static_branches.add(key)
        for part, taken in (("body", decided is not False), ("orelse", decided is not True)):
            self.report.branches[key + (part,)] = self.report.branches.get(key + (part,), False) or taken

    def _class(self, node: ast.ClassDef, env: dict[str, frozenset]) -> None:
        for deco in node.decorator_list:
            self.expr(deco, env)
        methods = {item.name: item for item in node.body if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))}
        for base in node.bases:
            for t in self.expr(base, env):
                if t[0] == "class":
                    self._check_interface(node, base, t[1], methods)
        class_env = dict(env)
        for item in node.body:
            if not isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.stmt(item, class_env)
        for item in methods.values():
            func = self.funcs[id(item)]
            self._grow_closure(func, env)
            func.reached = True
            for deco in item.decorator_list:
                self.expr(deco, env)
        env[node.name] = _EMPTY

    def _check_interface(self, node: ast.ClassDef, base: ast.expr, qual: str, methods: dict[str, Any]) -> None:
        members = self.api.classes.get(qual, {}).get("members", {})
        declared = {name: info for name, info in members.items()
                    if info["kind"] == "method" and not name.startswith("_")}
        public = {name for name in methods if not name.startswith("_")}
        for name in sorted(set(declared) - public):
            self.error(node, f"class {node.name} derives from trt.{qual} but does not define {name}()")
        for name in sorted(public - set(declared)):
            self.error(methods[name], f"class {node.name}: trt.{qual} declares no method {name}() "
                                      "(a misspelt override is never called; make helpers private with '_')")
        for name in sorted(public & set(declared)):
            self.use(f"{qual}.{name} (override)")
            ours = methods[name].args
            if ours.vararg is not None:
                continue
            count = len(ours.posonlyargs) + len(ours.args) - 1  # without self
            counts = {len([p for p in sig["params"] if p["kind"] == "positional"])
                      for sig in declared[name].get("signatures", [])}
            if counts and count not in counts:
                self.error(methods[name], f"class {node.name}: {name}() takes {count} arguments besides self, "
                                          f"trt.{qual}.{name} passes {sorted(counts)[0]}")
        init = methods.get("__init__")
        if init is not None and not _calls_base_init(init, base):
            self.error(init, f"class {node.name}.__init__ must call {ast.unparse(base)}.__init__(self) "
                             "(pybind11 requires it)")

    # ---------------------------------------------------------------- assignment

    def assign(self, target: ast.expr, value: frozenset, env: dict[str, frozenset]) -> None:
        if isinstance(target, ast.Name):
            env[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self.assign(elt.value if isinstance(elt, ast.Starred) else elt, _EMPTY, env)
        elif isinstance(target, ast.Attribute):
            if isinstance(target.value, ast.Name) and target.value.id == "self" and value:
                known = self.self_attrs.get(target.attr, _EMPTY)
                if not value <= known:
                    self.self_attrs[target.attr] = known | value
                    self.changed = True
            base = self.expr(target.value, env)
            for t in base:
                self.attribute(frozenset({t}), target.attr, target, store=True)
        elif isinstance(target, ast.Subscript):
            self.expr(target.value, env)
            self.expr(target.slice, env)

    # ---------------------------------------------------------------- conditions

    def condition(self, node: ast.expr, env: dict[str, frozenset]) -> bool | None:
        """Visit a condition and decide it for this version when it depends only on the version or on
        hasattr() of a value of known type (None: decided at run time)."""
        if isinstance(node, ast.BoolOp):
            results = []
            for value in node.values:
                result = self.condition(value, env)
                results.append(result)
                if isinstance(node.op, ast.And) and result is False:
                    return False
                if isinstance(node.op, ast.Or) and result is True:
                    return True
            if all(r is not None for r in results):
                return all(results) if isinstance(node.op, ast.And) else any(results)
            return None
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            result = self.condition(node.operand, env)
            return None if result is None else not result
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "hasattr" \
                and len(node.args) == 2 and isinstance(node.args[1], ast.Constant) \
                and isinstance(node.args[1].value, str):
            types = self.expr(node.args[0], env)
            return self._hasattr(types, node.args[1].value)
        if isinstance(node, ast.Compare):
            values = [self._static(node.left)] + [self._static(c) for c in node.comparators]
            if all(v is not _UNKNOWN for v in values):
                for op, a, b in zip(node.ops, values, values[1:]):
                    if not _compare(op, a, b):
                        return False
                return True
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return node.value
        self.expr(node, env)
        return None

    def _hasattr(self, types: frozenset, name: str) -> bool | None:
        answers = set()
        for t in types:
            if t[0] == "module":
                answers.add(name in self.api.module)
            elif t[0] in ("class", "inst"):
                answers.add(self.api.member(t[1], name) is not None)
            else:
                return None
        if len(answers) == 1:
            result = answers.pop()
            self.use(f"hasattr {name}")
            return result
        return None

    def _static(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)):
            return node.value
        if isinstance(node, ast.Name) and node.id in _VERSION_NAMES:
            return (self.api.major, self.api.minor)[_VERSION_NAMES[node.id]]
        if isinstance(node, ast.Tuple):
            items = tuple(self._static(e) for e in node.elts)
            return _UNKNOWN if any(i is _UNKNOWN for i in items) else items
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _VERSION_FUNCTIONS:
            return (self.api.major, self.api.minor)
        return _UNKNOWN

    # ---------------------------------------------------------------- expressions

    def expr(self, node: ast.expr | None, env: dict[str, frozenset]) -> frozenset:
        if node is None:
            return _EMPTY
        if isinstance(node, ast.Name):
            if node.id == "trt":
                return _MODULE
            if node.id in env:
                return env[node.id]
            if node.id in self.by_name:
                if isinstance(node.ctx, ast.Load):
                    for func in self.by_name[node.id]:
                        if not func.reached:
                            func.reached = True
                            self.changed = True
                return frozenset({("local", node.id)})
            return _EMPTY
        if isinstance(node, ast.Attribute):
            if (isinstance(node.value, ast.Name) and node.value.id == "self" and isinstance(node.ctx, ast.Load)
                    and node.attr in self.self_attrs):
                return self.self_attrs[node.attr]
            base = self.expr(node.value, env)
            return self.attribute(base, node.attr, node, store=isinstance(node.ctx, ast.Store))
        if isinstance(node, ast.Call):
            return self.call(node, env)
        if isinstance(node, ast.Subscript):
            base = self.expr(node.value, env)
            self.expr(node.slice, env)
            return frozenset(("inst", t[1]) for t in base if t[0] == "list")
        if isinstance(node, ast.IfExp):
            decided = self.condition(node.test, env)
            self._branch(node, decided)
            out = _EMPTY
            if decided is not False:
                out |= self.expr(node.body, env)
            if decided is not True:
                out |= self.expr(node.orelse, env)
            return out
        if isinstance(node, ast.BoolOp):  # short-circuit: `hasattr(x, "a") and x.a` checks x.a only if x has it
            out = _EMPTY
            for value in node.values:
                decided = None
                if _is_static_candidate(value):
                    decided = self.condition(value, env)
                else:
                    out |= self.expr(value, env)
                if isinstance(node.op, ast.And) and decided is False:
                    break
                if isinstance(node.op, ast.Or) and decided is True:
                    break
            return out
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            inner = dict(env)
            for gen in node.generators:
                it = self.expr(gen.iter, inner)
                self.assign(gen.target, frozenset(("inst", t[1]) for t in it if t[0] == "list"), inner)
                for cond in gen.ifs:
                    self.condition(cond, inner)
            if isinstance(node, ast.DictComp):
                self.expr(node.key, inner)
                self.expr(node.value, inner)
                return _EMPTY
            elem = self.expr(node.elt, inner)
            return frozenset(("list", t[1]) for t in elem if t[0] == "inst")
        if isinstance(node, ast.Lambda):
            inner = dict(env)
            for arg in node.args.args:
                inner[arg.arg] = _EMPTY
            self.expr(node.body, inner)
            return _EMPTY
        if isinstance(node, ast.NamedExpr):
            value = self.expr(node.value, env)
            self.assign(node.target, value, env)
            return value
        if isinstance(node, ast.List):
            elems = _EMPTY
            for elt in node.elts:
                elems |= self.expr(elt, env)
            return frozenset(("list", t[1]) for t in elems if t[0] == "inst")
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.expr(child, env)
            elif isinstance(child, ast.comprehension):
                self.expr(child.iter, env)
        return _EMPTY

    def attribute(self, base: frozenset, attr: str, node: ast.AST, store: bool) -> frozenset:
        out: set = set()
        api = self.api
        for t in base:
            kind = t[0]
            if kind == "module":
                info = api.module.get(attr)
                if info is None:
                    self.error(node, f"trt.{attr} does not exist in TensorRT {api.version}")
                    continue
                self.use(f"tensorrt.{attr}")
                if info["kind"] in ("class", "enum"):
                    out.add(("class", info["ref"]))
                elif info["kind"] == "function":
                    out.add(("func", attr))
                elif info["kind"] == "value" and info.get("type"):
                    out.add(("inst", info["type"]))
            elif kind in ("class", "inst"):
                qual = t[1]
                info = api.member(qual, attr)
                if info is None:
                    what = "class" if kind == "class" else "object"
                    self.error(node, f"{qual}.{attr} does not exist in TensorRT {api.version} "
                                     f"(on a {qual} {what})")
                    continue
                self.use(f"{qual}.{attr}")
                mk = info["kind"]
                if mk in ("method", "dunder"):
                    out.add(("method" if kind == "inst" else "cmethod", qual, attr))
                elif mk == "staticmethod":
                    out.add(("cmethod", qual, attr))
                elif mk == "class":
                    out.add(("class", info["ref"]))
                elif mk == "value":
                    if info.get("type"):
                        out.add(("inst", info["type"]))
                elif mk == "property":
                    if store and kind == "inst":
                        if not info.get("settable"):
                            self.error(node, f"{qual}.{attr} is read-only in TensorRT {api.version}")
                        else:
                            self.use(f"{qual}.{attr} (set)")
                    elif kind == "inst":
                        out |= api.type_from_text(info.get("type"))
            elif kind == "opaque":
                self.error(node, f"cannot tell the TensorRT type of the value whose .{attr} is used "
                                 f"(a signature says {t[1]!r}); annotate it, e.g. x: trt.ICudaEngine")
        return frozenset(out)

    def call(self, node: ast.Call, env: dict[str, frozenset]) -> frozenset:
        func_types = self.expr(node.func, env)
        arg_types = [self.expr(a.value if isinstance(a, ast.Starred) else a, env) for a in node.args]
        kw_types = {kw.arg: self.expr(kw.value, env) for kw in node.keywords}
        out: set = set()
        for t in func_types:
            kind = t[0]
            if kind == "local":
                for func in self.by_name.get(t[1], []):
                    self._bind_call(func, node, arg_types, kw_types)
                    out |= func.returns
            elif kind == "class":
                init = self.api.member(t[1], "__init__")
                if init is not None:
                    self._check_args(node, f"trt.{t[1]}", init.get("signatures", []), self_bound=True)
                out.add(("inst", t[1]))
            elif kind in ("method", "cmethod"):
                info = self.api.member(t[1], t[2]) or {}
                unbound = kind == "cmethod" and info.get("kind") != "staticmethod"
                self._check_args(node, f"{t[1]}.{t[2]}", info.get("signatures", []), self_bound=not unbound)
                for sig in info.get("signatures", []):
                    out |= self.api.type_from_text(sig.get("returns"))
            elif kind == "poly":
                out |= self._polygraphy_call(node, t[1])
            elif kind == "polyobj":
                returns = self.polygraphy.get(t[1], {}).get("returns")
                if returns:
                    out.add(("inst", returns))
            elif kind == "func":
                sigs = self.api.functions.get(t[1], [])
                self._check_args(node, f"trt.{t[1]}", sigs, self_bound=True)
                for sig in sigs:
                    out |= self.api.type_from_text(sig.get("returns"))
        return frozenset(out)

    def _polygraphy_call(self, node: ast.Call, qual: str) -> frozenset:
        """A call of a Polygraphy name: its keywords must exist, and the TensorRT API Polygraphy uses for them
        must exist in this version (``uses``: None for every call, else per keyword given)."""
        info = self.polygraphy.get(qual)
        if info is None:
            self.error(node, f"{qual} is not in the Polygraphy API table (tests/trt_api/polygraphy_uses.py): "
                             "add what it uses of TensorRT")
            return _EMPTY
        given = [kw.arg for kw in node.keywords if kw.arg is not None]
        for name in given:
            if name not in info["params"] and not info.get("var_kw"):
                self.error(node, f"{qual}(...) has no parameter {name!r} in Polygraphy {info.get('version', '?')}")
        self.use(f"{qual} (call)")
        for key in [None, *given]:
            for use in info["uses"].get(key, ()):
                self._polygraphy_use(node, qual, use)
        return frozenset({("polyobj", qual)})  # a Polygraphy loader; calling it gives ``returns``

    def _polygraphy_use(self, node: ast.AST, qual: str, use: str) -> None:
        text, _, mode = use.partition(" ")
        owner, _, member = text.partition(".")
        info = self.api.member(owner, member)
        if info is None:
            self.error(node, f"{qual} uses {owner}.{member}, which does not exist in TensorRT {self.api.version}")
            return
        if mode == "(set)" and info.get("kind") == "property" and not info.get("settable"):
            self.error(node, f"{qual} sets {owner}.{member}, which is read-only in TensorRT {self.api.version}")
            return
        self.use(f"{owner}.{member} (set)" if mode == "(set)" else f"{owner}.{member}")
        self.use(f"{owner}.{member} (via {qual.rsplit('.', 1)[-1]})")

    def _bind_call(self, func: _Func, node: ast.Call, arg_types, kw_types) -> None:
        if not func.reached:
            func.reached = True
            self.changed = True
        params = [a.arg for a in [*func.node.args.posonlyargs, *func.node.args.args]]
        if func.is_method and params:
            params = params[1:]
        updates: dict[str, frozenset] = {}
        for name, types in zip(params, arg_types):
            updates[name] = types
        for name, types in kw_types.items():
            if name is not None:
                updates[name] = types
        for name, types in updates.items():
            old = func.params.get(name, _EMPTY)
            if not types <= old:
                func.params[name] = old | types
                self.changed = True

    def _check_args(self, node: ast.Call, what: str, signatures: list[dict], self_bound: bool) -> None:
        if not signatures or any(isinstance(a, ast.Starred) for a in node.args) or \
                any(kw.arg is None for kw in node.keywords):
            return
        npos = len(node.args) - (0 if self_bound else 1)
        names = [kw.arg for kw in node.keywords]
        problems = []
        for sig in signatures:
            problem = _accepts(sig["params"], npos, names)
            if problem is None:
                self.use(f"{what} (call)")
                return
            problems.append(problem)
        self.error(node, f"{what}(...) cannot be called like this in TensorRT {self.api.version}: {problems[0]}")


class _Unknown:
    pass


_UNKNOWN = _Unknown()


def _compare(op: ast.cmpop, a: Any, b: Any) -> bool:
    try:
        return {ast.Eq: lambda: a == b, ast.NotEq: lambda: a != b, ast.Lt: lambda: a < b, ast.LtE: lambda: a <= b,
                ast.Gt: lambda: a > b, ast.GtE: lambda: a >= b}[type(op)]()
    except (KeyError, TypeError):
        return False


def _is_static_candidate(node: ast.expr) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "hasattr") or \
        isinstance(node, ast.Compare) and any(isinstance(n, ast.Name) and n.id in _VERSION_NAMES
                                              for n in ast.walk(node))


def _accepts(params: list[dict], npos: int, kw_names: list[str]) -> str | None:
    positional = [p for p in params if p["kind"] == "positional"]
    var_pos = any(p["kind"] == "var_positional" for p in params)
    var_kw = any(p["kind"] == "var_keyword" for p in params)
    if npos > len(positional) and not var_pos:
        return f"{npos} positional arguments given, at most {len(positional)} accepted"
    by_pos = {p["name"] for p in positional[:npos]}
    for name in kw_names:
        if name in by_pos:
            return f"argument {name!r} given twice"
        if name not in {p["name"] for p in positional} and not var_kw:
            return f"no parameter named {name!r} (parameters: {', '.join(p['name'] for p in positional)})"
    missing = [p["name"] for p in positional[npos:] if not p["default"] and p["name"] not in kw_names]
    if missing:
        return f"missing {', '.join(missing)}"
    return None


def _calls_base_init(init: ast.FunctionDef, base: ast.expr) -> bool:
    base_text = ast.unparse(base)
    for node in ast.walk(init):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "__init__":
            owner = node.func.value
            if ast.unparse(owner) == base_text:
                return True
            if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id == "super":
                return True
    return False


def _merge_into(env: dict[str, frozenset], *branches: dict[str, frozenset]) -> None:
    """After an undecided if/else a name may hold what either branch gave it."""
    names = set().union(*branches)
    for name in names:
        merged = _EMPTY
        for branch in branches:
            merged |= branch.get(name, _EMPTY)
        env[name] = merged


def parse(source: "str | Mapping[str, str]") -> ast.Module:
    """One module, or several (file name -> text) read as one; every node knows its file (``_file``)."""
    if isinstance(source, str):
        return ast.parse(source)
    body: list[ast.stmt] = []
    for name, text in source.items():
        tree = ast.parse(text, filename=name)
        for node in ast.walk(tree):
            node._file = name  # type: ignore[attr-defined]
        body.extend(tree.body)
    return ast.Module(body=body, type_ignores=[])


def check(source: "str | Mapping[str, str]", dumps: Iterable[dict[str, Any]],
          polygraphy: dict[str, Any] | None = None) -> list[VersionReport]:
    """Check ``source`` against each API dump (``polygraphy``: the table of Polygraphy calls, see
    ``polygraphy_uses.py``)."""
    tree = parse(source)
    return [_Analyzer(tree, Api(dump), polygraphy).run() for dump in dumps]


def unverified_branches(source: "str | Mapping[str, str]", reports: list[VersionReport]) -> list[str]:
    """Branches decided statically (by version or hasattr) that no version took: code no bindings checked."""
    tree = parse(source)
    nodes: dict[tuple[str, int, int], ast.AST] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.If, ast.IfExp)):
            nodes[(getattr(node, "_file", ""), node.lineno, node.col_offset)] = node
    out = []
    for key, node in sorted(nodes.items()):
        if not any(key in r.static_branches for r in reports):
            continue
        for part in ("body", "orelse"):
            seen = [r.branches[key + (part,)] for r in reports if key + (part,) in r.branches]
            if not seen or any(seen):
                continue
            code = getattr(node, part)
            code = code if isinstance(code, list) else [code]
            if any(isinstance(n, ast.Attribute) for c in code for n in ast.walk(c)):
                where = f"{key[0]}:{key[1]}" if key[0] else f"line {key[1]}"
                out.append(f"{where}: the {'if' if part == 'body' else 'else'} branch of "
                           f"'{ast.unparse(node.test)}' is taken by none of "
                           f"{', '.join(r.version for r in reports)}, so no bindings checked it")
    return out
