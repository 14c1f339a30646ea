"""Predict TensorRT's layer fusions from an ONNX model, before any build.

The rules are TensorRT's documented fusion patterns (developer guide, "Types of Fusions"), applied in the
order the builder effectively applies them:

1. constant folding: Constant nodes and nodes computed from constants only become weights (no layer);
2. multi-node patterns: multi-head attention (MatMul -> [scale/mask] -> Softmax -> MatMul), LayerNorm and
   RMSNorm reductions, and single-input pointwise regions (GELU erf/tanh, SiLU/Swish, Mish, bias+act...);
3. convolution / deconvolution / MatMul / Gemm with everything TensorRT folds into them: weight Q/DQ
   (``conv1.weight + QuantizeLinear_7 + Conv_9``), the activation DequantizeLinear, a constant Pad, then
   the epilogue: BatchNorm / constant scale / bias, a residual Add whose other input is already computed
   (so the sum fuses into the convolution that runs *last*), an activation or pointwise unit, and an output
   QuantizeLinear when the layer's output goes nowhere else;
4. what is left: activation QuantizeLinear nodes become their own Reformat-like layers (FP -> INT8),
   Transpose/Reshape chains merge (Shuffle + Shuffle), Softmax takes a following Log or TopK, pointwise
   chains merge (PWN), everything else stays a single layer;
5. with ``target="tensorrt-rtx"``, rules fitted to real TensorRT-RTX (Myelin) builds (``bench/rtx_fusions.py``,
   over the samples and the ONNX model zoo's light models built here ahead of time): a constant-computing node joins
   the layer of its one consumer (Myelin names it there; TensorRT 10 names it nowhere, so comparisons over
   named nodes are unchanged), a BatchNormalization that follows no convolution is a pointwise scale, a
   Concat whose output feeds a pointwise region runs in that region's kernel, and a residual Add (or Sum)
   of two convolution branches fuses into the branch with the smaller (or equal, first) kernel.

Every node of the main graph ends in exactly one :class:`FusionGroup`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CONV_OPS = {"Conv": "convolution", "ConvTranspose": "deconvolution", "MatMul": "matmul", "Gemm": "matmul",
            "ConvInteger": "convolution", "MatMulInteger": "matmul", "QLinearConv": "convolution",
            "QLinearMatMul": "matmul"}
ACTIVATIONS = {"Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "Elu", "Selu", "Softplus", "Softsign", "HardSigmoid",
               "HardSwish", "ThresholdedRelu", "Gelu", "Mish", "Celu", "PRelu"}
BINARY_POINTWISE = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Mod", "Equal", "Greater", "Less",
                    "GreaterOrEqual", "LessOrEqual", "And", "Or", "Xor", "BitShift"}
UNARY_POINTWISE = {"Abs", "Neg", "Exp", "Log", "Sqrt", "Reciprocal", "Ceil", "Floor", "Erf", "Sin", "Cos", "Tan",
                   "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Not", "Sign", "Round", "Cast",
                   "IsNaN", "IsInf"}
POINTWISE = BINARY_POINTWISE | UNARY_POINTWISE | ACTIVATIONS
SHUFFLES = {"Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze"}
QDQ = {"QuantizeLinear", "DequantizeLinear"}
#: ops never folded even when their inputs are constant (Q/DQ fold into their consumer instead)
NOT_FOLDED = QDQ | {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial"}
#: a single-input elementwise region larger than this is no documented unit (GELU, SiLU, bias + act...): its
#: nodes are left to the pointwise-chain pass, and the search stays linear on huge elementwise graphs
MAX_POINTWISE_UNIT = 256


@dataclass
class FusionGroup:
    """Nodes TensorRT is expected to run as one layer, with the rule that put them together."""

    kind: str  # convolution, matmul, attention, normalization, pointwise, shuffle, quantize, constant, single...
    rule: str
    nodes: list[str]  # ONNX node ids, topological order
    weights: list[str] = field(default_factory=list)  # initializers folded into the layer

    @property
    def name(self) -> str:
        """A TensorRT-style name: the nodes joined with `` + ``."""
        return " + ".join(self.nodes)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "rule": self.rule, "nodes": list(self.nodes), "weights": list(self.weights)}


@dataclass
class _Unit:
    """A multi-node pattern found before the convolution pass (may later join a convolution's group)."""

    kind: str
    label: str
    nodes: list[Any]
    root: str | None = None  # the one non-constant input of a pointwise unit
    output: str | None = None


#: what :func:`predict_fusions` predicts for: TensorRT's documented fusions, or TensorRT-RTX's (Myelin) ones
TARGETS = ("tensorrt", "tensorrt-rtx")
#: where each target's rules come from, in words for labels and headlines
TARGET_SOURCES = {
    "tensorrt": "TensorRT's documented fusion patterns",
    "tensorrt-rtx": "TensorRT's documented fusion patterns plus rules fitted to real TensorRT-RTX builds "
                    "(bench/rtx_fusions.py)",
}


class _Predictor:
    def __init__(self, model, target: str = "tensorrt") -> None:
        self.rtx = target == "tensorrt-rtx"
        # inference BatchNorm outside a convolution is a per-channel scale + shift: Myelin fuses it as pointwise
        self.pointwise = POINTWISE | {"BatchNormalization"} if self.rtx else POINTWISE
        self.graph = model.graph
        self.nodes = self.graph.nodes
        self.index = {node.id: i for i, node in enumerate(self.nodes)}
        self.producer = self.graph.producer
        self.consumers = self.graph.consumers
        self.outputs = self.graph.output_names
        self.initializers = self.graph.initializers
        self.const = self._constant_tensors()
        self.group_of: dict[str, int] = {}
        self.groups: list[tuple[str, list[str], list[Any]]] = []  # kind, rule parts, nodes
        self.unit_of: dict[str, _Unit] = {}
        self._too_big: set[str] = set()

    # -- graph facts --------------------------------------------------------------------------------------
    def _constant_tensors(self) -> set[str]:
        const = set(self.initializers)
        for node in self.nodes:
            if node.op_type in NOT_FOLDED or node.subgraphs:
                continue
            inputs = [t for t in node.inputs if t]
            if node.op_type == "Constant" or (inputs and all(t in const for t in inputs)):
                const.update(t for t in node.outputs if t)
        return const

    def is_const_node(self, node) -> bool:
        outs = [t for t in node.outputs if t]
        return node.op_type not in NOT_FOLDED and bool(outs) and all(t in self.const for t in outs)

    def free(self, node) -> bool:
        return node.id not in self.group_of

    def only_consumer(self, tensor: str):
        """The single node reading ``tensor``, or None (several readers, or a graph output)."""
        readers = self.consumers.get(tensor, [])
        if len(readers) != 1 or tensor in self.outputs:
            return None
        return readers[0]

    def non_const_inputs(self, node) -> list[str]:
        return [t for t in node.inputs if t and t not in self.const]

    def claim(self, kind: str, rules: list[str], nodes: list[Any]) -> None:
        number = len(self.groups)
        self.groups.append((kind, rules, nodes))
        for node in nodes:
            self.group_of[node.id] = number

    # -- the passes -------------------------------------------------------------------------------------
    def run(self) -> list[FusionGroup]:
        for node in self.nodes:
            if self.is_const_node(node):
                self.claim("constant", ["constant folding: computed at build time, becomes weights"], [node])
        if self.rtx:  # Myelin runs attention's MatMuls apart, the scale with the Softmax (see migrate_epilogues)
            self.horizontal_matmuls()
        else:
            self.find_attention()
        self.find_layernorm()
        self.find_rmsnorm()
        self.find_pointwise_units()
        for node in self.nodes:
            if node.op_type in CONV_OPS and self.free(node) and node.id not in self.unit_of:
                self.fuse_convolution(node)
        self.claim_units()
        self.leftover_quantize()
        self.softmax_tails()
        self.chains(SHUFFLES, "shuffle", "Shuffle + Shuffle (Transpose/Reshape/Flatten/Squeeze/Unsqueeze chain)")
        self.chains(self.pointwise, "pointwise", "pointwise chain (PWN: elementwise/unary/activations)")
        for node in self.nodes:
            if self.free(node):
                self.claim("single", [f"{node.op_type}: no fusion rule applies"], [node])
        if self.rtx:
            self.migrate_epilogues()
            self.quantize_into_producers()
            self.merge_pointwise_groups()
            self.pointwise_into_shuffles()
            self.absorb_constants()
            self.absorb_concats()
        return self.result()

    # -- fitted to TensorRT-RTX builds ------------------------------------------------------------------
    def _merge(self, source: int, target: int, rule: str) -> None:
        kind, rules, nodes = self.groups[source]
        t_kind, t_rules, t_nodes = self.groups[target]
        t_nodes.extend(nodes)
        if rule not in t_rules:
            t_rules.append(rule)
        for node in nodes:
            self.group_of[node.id] = target
        self.groups[source] = (kind, rules, [])

    def _move(self, nodes: list[Any], source: int, target: int, rule: str) -> None:
        kind, rules, members = self.groups[source]
        ids = {n.id for n in nodes}
        self.groups[source] = (kind, rules, [n for n in members if n.id not in ids])
        self.groups[target][2].extend(nodes)
        if rule not in self.groups[target][1]:
            self.groups[target][1].append(rule)
        for node in nodes:
            self.group_of[node.id] = target

    def horizontal_matmuls(self) -> None:
        """MatMuls with constant weights reading one input run as one layer (Q, K and V projections)."""
        by_input: dict[str, list[Any]] = {}
        for node in self.nodes:
            if node.op_type in ("MatMul", "Gemm") and self.free(node) and len(node.inputs) > 1 \
                    and node.inputs[1] in self.const and node.inputs[0] not in self.const:
                by_input.setdefault(node.inputs[0], []).append(node)
        for nodes in by_input.values():
            if len(nodes) >= 2:
                self.claim("matmul", ["horizontal fusion: MatMuls reading one input (Myelin)"], nodes)

    def _is_softmax_or_norm(self, number: int) -> bool:
        kind, _rules, nodes = self.groups[number]
        return kind in ("shuffle", "normalization", "softmax") or (
            len(nodes) == 1 and nodes[0].op_type in ("Softmax", "LayerNormalization", "Reshape", "Transpose"))

    def migrate_epilogues(self) -> None:
        """A convolution / MatMul whose epilogue (bias, BatchNorm, activation, residual) feeds a shuffle, a
        normalization or a Softmax alone: Myelin runs the epilogue in that consumer's kernel (AddReshTran,
        MulAddReluReshTran, AddAdd...LayerNorm, MulMaxrSubExpSumDiv) and the convolution alone; with no
        epilogue, a Softmax right after a Gemm joins it."""
        for number in range(len(self.groups)):
            kind, _rules, nodes = self.groups[number]
            heads = [n for n in nodes if n.op_type in CONV_OPS]
            if kind not in ("convolution", "deconvolution", "matmul") or len(heads) != 1:
                continue
            head = heads[0]
            tail = [n for n in nodes if self.index[n.id] > self.index[head.id]]
            int8 = any(self.producer.get(t) is not None and self.producer[t].op_type == "DequantizeLinear"
                       and self.group_of.get(self.producer[t].id) == number for t in head.inputs if t)
            if int8 and tail:  # an INT8 convolution runs alone; its epilogue and output Q are one kernel
                new = len(self.groups)
                self.groups.append(("pointwise", [], []))
                self._move(tail, number, new, "INT8 epilogue (BatchNorm, residual, activation, Quantize) in "
                                              "its own kernel (Myelin)")
                continue
            if any(n.op_type in QDQ for n in tail):
                continue
            last = max(tail or [head], key=lambda n: self.index[n.id])
            out = _out(last)
            readers = self.consumers.get(out, [])
            targets = {self.group_of.get(r.id) for r in readers}
            if not readers or len(targets) != 1 or out in self.outputs:
                continue
            target = targets.pop()
            if target is None or target == number or not self._is_softmax_or_norm(target):
                continue
            if tail:
                self._move(tail, number, target, "epilogue run in the consumer's kernel (Myelin)")
            elif readers[0].op_type == "Softmax":
                self._merge(target, number, "Softmax after the MatMul (Myelin)")

    def _pointwise_group(self, number: int) -> bool:
        """All pointwise; for merging, activation Q/DQ count as pointwise (scale, round, cast: Myelin's
        MulMinMaxRounCast runs them in the neighbouring kernel)."""
        kind, _rules, nodes = self.groups[number]
        return bool(nodes) and kind != "constant" and all(n.op_type in self.pointwise or n.op_type in QDQ
                                                          for n in nodes)

    def quantize_into_producers(self) -> None:
        """An activation QuantizeLinear runs in the kernel computing its input (MulAddReluMulMinMaxRounCast)."""
        for number in range(len(self.groups)):
            kind, _rules, nodes = self.groups[number]
            if kind != "quantize" or len(nodes) != 1:
                continue
            producer = self.producer.get(_in(nodes[0], 0))
            target = self.group_of.get(producer.id) if producer is not None else None
            if target is not None and target != number and self.groups[target][0] == "pointwise":
                self._merge(number, target, "activation QuantizeLinear in its producer's kernel (Myelin)")

    def merge_pointwise_groups(self) -> None:
        """Pointwise groups feeding only one other pointwise group become one kernel (a standalone BatchNorm
        and the scale + bias + Relu after it: Myelin's MulAddMulAddRelu)."""
        changed = True
        while changed:
            changed = False
            for number in range(len(self.groups)):
                if not self._pointwise_group(number):
                    continue
                nodes = self.groups[number][2]
                readers = {self.group_of.get(c.id) for n in nodes for t in n.outputs if t
                           for c in self.consumers.get(t, [])} - {number}
                escapes = any(t in self.outputs for n in nodes for t in n.outputs)
                if len(readers) == 1 and not escapes:
                    target = readers.pop()
                    if target is not None and self._pointwise_group(target):
                        self._merge(number, target, "pointwise chain (Myelin)")
                        changed = True

    def pointwise_into_shuffles(self) -> None:
        """A pointwise group whose one output feeds only a Reshape/Transpose chain runs in it (AddReshTran)."""
        for number in range(len(self.groups)):
            kind, _rules, nodes = self.groups[number]
            if not nodes or kind == "constant" or not all(n.op_type in self.pointwise for n in nodes):
                continue
            outs = [t for n in nodes for t in n.outputs if t and (
                t in self.outputs or any(self.group_of.get(c.id) != number for c in self.consumers.get(t, [])))]
            if len(outs) != 1 or outs[0] in self.outputs:
                continue
            readers = self.consumers.get(outs[0], [])
            if len(readers) != 1 or readers[0].op_type not in ("Reshape", "Transpose"):
                continue
            target = self.group_of.get(readers[0].id)
            if target is not None and target != number:
                self._merge(number, target, "pointwise into the shuffle reading it (Myelin)")

    def absorb_constants(self) -> None:
        """A constant group whose outputs all feed one other group joins it (Myelin lists such nodes, e.g. an
        Unsqueeze of a weight, in the metadata of the layer reading them)."""
        for number, (kind, _rules, nodes) in enumerate(self.groups):
            if kind != "constant" or not nodes:
                continue
            readers = {self.group_of[c.id] for n in nodes for t in n.outputs if t
                       for c in self.consumers.get(t, [])} - {number}
            if len(readers) == 1 and not any(t in self.outputs for n in nodes for t in n.outputs):
                target = readers.pop()
                if self.groups[target][0] != "constant":
                    self._merge(number, target, "constants computed in the layer (Myelin)")

    def absorb_concats(self) -> None:
        """A lone Concat feeding a pointwise group runs inside that group's kernel (Myelin ``Conc...``)."""
        for number, (kind, _rules, nodes) in enumerate(self.groups):
            if kind != "single" or len(nodes) != 1 or nodes[0].op_type != "Concat":
                continue
            for reader in self.consumers.get(_out(nodes[0]), []):
                target = self.group_of.get(reader.id)
                members = self.groups[target][2] if target is not None else []
                if target is not None and target != number and members and \
                        all(n.op_type in self.pointwise or self.is_const_node(n) for n in members):
                    self._merge(number, target, "Concat into the pointwise kernel reading it (Myelin)")
                    break

    def result(self) -> list[FusionGroup]:
        out = []
        for kind, rules, nodes in self.groups:
            if not nodes:
                continue
            ordered = sorted(nodes, key=lambda n: self.index[n.id])
            weights: list[str] = []
            for node in ordered:
                for t in node.inputs:
                    if t in self.initializers and t not in weights:
                        weights.append(t)
            out.append(FusionGroup(kind=kind, rule=" + ".join(dict.fromkeys(rules)),
                                   nodes=[n.id for n in ordered], weights=weights))
        out.sort(key=lambda g: self.index[g.nodes[0]])
        return out

    # -- multi-node patterns ----------------------------------------------------------------------------
    def _add_unit(self, unit: _Unit) -> None:
        for node in unit.nodes:
            self.unit_of[node.id] = unit

    def _available(self, node) -> bool:
        return node is not None and self.free(node) and node.id not in self.unit_of

    def find_attention(self) -> None:
        """MatMul(Q, K^T) -> [Div/Mul scale, Add mask, Cast] -> Softmax -> MatMul(., V)."""
        for softmax in self.nodes:
            if softmax.op_type != "Softmax" or not self._available(softmax):
                continue
            chain = []
            tensor = _in(softmax, 0)
            first = None
            for _ in range(4):
                node = self.producer.get(tensor)
                if not self._available(node) or self.only_consumer(tensor) is None:
                    break
                if node.op_type == "MatMul":
                    first = node
                    break
                if node.op_type not in ("Div", "Mul", "Add", "Sub", "Cast", "Where"):
                    break
                chain.append(node)
                tensor = self.non_const_inputs(node)[0] if self.non_const_inputs(node) else ""
            second = self.only_consumer(_out(softmax))
            if first is None or not self._available(second) or second.op_type != "MatMul":
                continue
            nodes = [first, *chain, softmax, second]
            self._add_unit(_Unit("attention", "multi-head attention: MatMul -> scale -> Softmax -> MatMul", nodes))

    def find_layernorm(self) -> None:
        """ReduceMean -> Sub -> Pow(2) -> ReduceMean -> Add(eps) -> Sqrt -> Div [-> Mul(gamma) -> Add(beta)]."""
        for mean in self.nodes:
            if mean.op_type != "ReduceMean" or not self._available(mean):
                continue
            x = _in(mean, 0)
            sub = self._reader(_out(mean), "Sub", lambda n: _in(n, 0) == x)
            if sub is None:
                continue
            square = self._reader(_out(sub), "Pow", lambda n: _in(n, 1) in self.const) or \
                self._reader(_out(sub), "Mul", lambda n: _in(n, 0) == _in(n, 1))
            var = square and self._reader(_out(square), "ReduceMean")
            eps = var and self._reader(_out(var), "Add", lambda n: any(t in self.const for t in n.inputs))
            sqrt = eps and self._reader(_out(eps), "Sqrt")
            div = sqrt and self._reader(_out(sqrt), "Div", lambda n: _in(n, 0) == _out(sub))
            if div is None:
                continue
            nodes = [mean, sub, square, var, eps, sqrt, div]
            nodes += self._affine_tail(_out(div))
            self._add_unit(_Unit("normalization", "LayerNorm pattern -> one normalization layer", nodes))

    def find_rmsnorm(self) -> None:
        """Pow(x, 2) -> ReduceMean -> Add(eps) -> Sqrt -> Div(x, .) | Reciprocal -> Mul(x, .) [-> Mul(gamma)]."""
        for mean in self.nodes:
            if mean.op_type != "ReduceMean" or not self._available(mean):
                continue
            square = self.producer.get(_in(mean, 0))
            if not self._available(square) or self.only_consumer(_in(mean, 0)) is None:
                continue
            if not ((square.op_type == "Pow" and _in(square, 1) in self.const)
                    or (square.op_type == "Mul" and _in(square, 0) == _in(square, 1))):
                continue
            x = _in(square, 0)
            eps = self._reader(_out(mean), "Add", lambda n: any(t in self.const for t in n.inputs))
            sqrt = eps and self._reader(_out(eps), "Sqrt")
            if sqrt is None:
                continue
            tail = self._reader(_out(sqrt), "Div", lambda n: _in(n, 0) == x)
            nodes = [square, mean, eps, sqrt]
            if tail is None:
                recip = self._reader(_out(sqrt), "Reciprocal")
                tail = recip and self._reader(_out(recip), "Mul", lambda n: x in n.inputs)
                if tail is None:
                    continue
                nodes.append(recip)
            nodes.append(tail)
            nodes += self._affine_tail(_out(tail), bias=False)
            self._add_unit(_Unit("normalization", "RMSNorm pattern -> one normalization layer", nodes))

    def _reader(self, tensor: str, op: str, test=lambda n: True):
        for node in self.consumers.get(tensor, []):
            if node.op_type == op and self._available(node) and test(node):
                return node
        return None

    def _affine_tail(self, tensor: str, bias: bool = True) -> list[Any]:
        tail = []
        for op in (("Mul", "Add") if bias else ("Mul",)):
            node = self.only_consumer(tensor)
            if not self._available(node) or node.op_type != op or len(self.non_const_inputs(node)) != 1:
                break
            tail.append(node)
            tensor = _out(node)
        return tail

    def find_pointwise_units(self) -> None:
        """Pointwise regions with one non-constant input and one output (GELU, SiLU, bias + ReLU, ...)."""
        roots = [t.name for t in self.graph.inputs if t.name not in self.initializers]
        roots += [out for node in self.nodes for out in node.outputs if out]
        too_big = self._too_big  # nodes of a region past MAX_POINTWISE_UNIT: left to the chain pass
        for root in roots:
            if root in self.const:
                continue
            readers = self.consumers.get(root, [])
            if not readers or not all(n.op_type in self.pointwise and self._available(n) and n.id not in too_big
                                      for n in readers):
                continue
            region = self._pointwise_region(root)
            if region is None:  # a huge elementwise region: not one of the documented units
                for node in self._pointwise_region(root, limit=None).values():
                    too_big.add(node.id)
                continue
            produced = {root}
            for node in region.values():
                produced.update(t for t in node.outputs if t)
            if len(region) < 2 or not all(n.id in region for n in readers):
                continue
            escaping = [t for t in produced - {root}
                        if t in self.outputs or any(n.id not in region for n in self.consumers.get(t, []))]
            if len(escaping) != 1:
                continue
            nodes = sorted(region.values(), key=lambda n: self.index[n.id])
            self._add_unit(_Unit("pointwise", self._pointwise_label(nodes), nodes, root=root, output=escaping[0]))

    def _pointwise_region(self, root: str, limit: int | None = MAX_POINTWISE_UNIT) -> dict[str, Any] | None:
        """Pointwise nodes computable from ``root`` and constants alone (a worklist: linear in the region).
        None when the region grows past ``limit`` nodes."""
        region: dict[str, Any] = {}
        produced = {root}
        queue = [root]
        consumers, const = self.consumers, self.const
        while queue:
            tensor = queue.pop()
            for node in consumers.get(tensor, ()):
                if node.id in region or node.op_type not in self.pointwise or not self._available(node) \
                        or node.id in self._too_big:
                    continue
                if all(not t or t in produced or t in const for t in node.inputs):
                    region[node.id] = node
                    if limit is not None and len(region) > limit:
                        return None
                    for t in node.outputs:
                        if t and t not in produced:
                            produced.add(t)
                            queue.append(t)
        return region

    def _pointwise_label(self, nodes: list[Any]) -> str:
        """Name a pointwise unit by what it computes (GELU, SiLU...) or by its epilogue parts (bias + Relu)."""
        named = _pattern_name(nodes)
        if named:
            return named
        parts = []
        activations = 0
        for node in nodes:
            constants = [t for t in node.inputs if t and t in self.const]
            if node.op_type in ACTIVATIONS and len(self.non_const_inputs(node)) == 1:
                parts.append(node.op_type)
                activations += 1
            elif node.op_type in ("Add", "Sub") and len(constants) == 1 and len(node.inputs) == 2:
                parts.append("bias")
            elif node.op_type in ("Mul", "Div") and len(constants) == 1 and len(node.inputs) == 2:
                parts.append("scale")
            else:
                parts = []
                break
        if parts and activations <= 1 and (not activations or parts[-1] not in ("bias", "scale")):
            return " + ".join(parts)
        return "pointwise unit (" + ", ".join(n.op_type for n in nodes) + ")"

    def claim_units(self) -> None:
        """Units no convolution absorbed become layers of their own."""
        seen = set()
        for unit in self.unit_of.values():
            if id(unit) in seen or not all(self.free(n) for n in unit.nodes):
                continue
            seen.add(id(unit))
            self.claim(unit.kind, [unit.label], unit.nodes)

    # -- convolution-like layers ------------------------------------------------------------------------
    def fuse_convolution(self, conv) -> None:
        nodes = [conv]
        before: list[str] = []
        after: list[str] = []
        taken = {conv.id}

        def take(node, rule: str, where: list[str]) -> None:
            nodes.append(node)
            taken.add(node.id)
            where.append(rule)

        for position, tensor in enumerate(conv.inputs):
            node = self.producer.get(tensor)
            if node is None or not self.free(node) or node.id in taken or node.id in self.unit_of:
                continue
            if node.op_type == "DequantizeLinear":
                source = self.producer.get(_in(node, 0))
                if _in(node, 0) in self.const:
                    take(node, "weight DequantizeLinear folded", before)
                elif source is not None and source.op_type == "QuantizeLinear" and _in(source, 0) in self.const \
                        and self.free(source):
                    take(source, "weight Q/DQ folded", before)
                    take(node, "weight Q/DQ folded", before)
                else:
                    take(node, "input DequantizeLinear absorbed (INT8 input)", before)
            elif node.op_type == "Pad" and position == 0 and conv.op_type == "Conv" \
                    and self.only_consumer(tensor) is conv and node.attr("mode", "constant") == "constant":
                take(node, "Pad", before)  # reads "Pad + Conv + ..."

        label = {"Conv": "Conv", "ConvTranspose": "Deconv", "Gemm": "Gemm", "MatMul": "MatMul"}.get(
            conv.op_type, conv.op_type)
        current = _out(conv)
        residual = activated = False
        while True:
            readers = self.consumers.get(current, [])
            unit = self.unit_of.get(readers[0].id) if readers and current not in self.outputs else None
            if unit is not None and unit.root == current and all(self.unit_of.get(n.id) is unit for n in readers):
                # a pointwise unit reading this output (it may read it several times: x * sigmoid(x))
                if activated or unit.kind != "pointwise" or not all(self.free(n) for n in unit.nodes):
                    break
                for member in unit.nodes:
                    nodes.append(member)
                    taken.add(member.id)
                after.append(unit.label)
                activated = True
                current = unit.output
                continue
            node = self.only_consumer(current)
            if node is None or node.id in taken or not self.free(node) or node.id in self.unit_of:
                break
            op = node.op_type
            others = [t for t in node.inputs if t and t != current]
            if op == "BatchNormalization" and not (residual or activated):
                take(node, "BatchNorm folded (scale)", after)
            elif op in ("Add", "Sub", "Mul", "Div") and len(others) == 1 and others[0] in self.const \
                    and not (residual or activated):
                take(node, "bias" if op in ("Add", "Sub") else "scale", after)
            elif op in ("Add", "Sum") and len(others) == 1 and not (residual or activated) and \
                    (self._computed_before(others[0], conv) or
                     (self.rtx and self._smaller_kernel_than_partner(others[0], conv))):
                take(node, "residual Add", after)
                dq = self.producer.get(others[0])
                if dq is not None and dq.op_type == "DequantizeLinear" and self.free(dq) and \
                        self.only_consumer(others[0]) is node and dq.id not in self.unit_of:
                    take(dq, "residual DequantizeLinear absorbed", after)
                residual = True
            elif op in ACTIVATIONS and not activated and len(self.non_const_inputs(node)) == 1:
                take(node, op, after)
                activated = True
            elif op == "QuantizeLinear" and all(t in self.const for t in node.inputs[1:] if t):
                take(node, "output QuantizeLinear (INT8 output)", after)
                break
            else:
                break
            current = _out(node)
        self.claim(CONV_OPS[conv.op_type], before + [label] + after, nodes)

    def _smaller_kernel_than_partner(self, tensor: str, conv) -> bool:
        """The other operand comes (through BatchNorm / bias) from a later free convolution of the same kind
        whose kernel is no smaller: Myelin fuses the Add into this one (ResNet-50's bottleneck: the first of
        two 1x1 branches; ResNet-18's downsample: the 1x1 one, not the 3x3)."""
        node = self.producer.get(tensor)
        for _ in range(3):
            if node is None or not self.free(node):
                return False
            if node.op_type == conv.op_type:
                break
            if node.op_type not in ("BatchNormalization", "Add", "Mul") or len(self.non_const_inputs(node)) != 1:
                return False
            node = self.producer.get(self.non_const_inputs(node)[0])
        else:
            return False
        if node is None or node.op_type != conv.op_type or node is conv:
            return False
        mine, theirs = self._kernel_area(conv), self._kernel_area(node)
        return mine is not None and theirs is not None and mine <= theirs

    def _kernel_area(self, conv) -> int | None:
        shape = conv.attr("kernel_shape")
        if not shape and len(conv.inputs) > 1:
            weight = self.initializers.get(conv.inputs[1])
            shape = weight.shape[2:] if weight is not None else None
        if not shape:
            return None
        area = 1
        for d in shape:
            area *= int(d)
        return area

    def _computed_before(self, tensor: str, conv) -> bool:
        """The residual operand must exist before the convolution runs: TensorRT adds it in the epilogue."""
        node = self.producer.get(tensor)
        return node is None or self.index[node.id] < self.index[conv.id]

    # -- what is left -----------------------------------------------------------------------------------
    def leftover_quantize(self) -> None:
        for node in self.nodes:
            if not self.free(node):
                continue
            if node.op_type in QDQ and node.inputs and _in(node, 0) in self.const:
                self.claim("constant", ["Q/DQ of a constant with no convolution/MatMul reader: folded into "
                                        "the constant at build time"], [node])
            elif node.op_type == "QuantizeLinear":
                self.claim("quantize", ["activation QuantizeLinear not fused into its producer -> "
                                        "Reformat layer (to INT8)"], [node])
            elif node.op_type == "DequantizeLinear":
                self.claim("dequantize", ["DequantizeLinear with no convolution/MatMul to fold into "
                                          "(Q/DQ propagation may remove it)"], [node])

    def softmax_tails(self) -> None:
        for node in self.nodes:
            if node.op_type != "Softmax" or not self.free(node):
                continue
            tail = self.only_consumer(_out(node))
            if tail is not None and tail.op_type in ("Log", "TopK") and self.free(tail):
                self.claim("softmax", [f"Softmax + {tail.op_type}"], [node, tail])

    def chains(self, ops: set[str], kind: str, rule: str) -> None:
        """Union free nodes of ``ops`` linked by a tensor with exactly one reader."""
        parent: dict[str, str] = {}

        def find(i: str) -> str:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        members = [n for n in self.nodes if n.op_type in ops and self.free(n)]
        for n in members:
            parent[n.id] = n.id
        for n in members:
            for out in n.outputs:
                reader = self.only_consumer(out) if out else None
                if reader is not None and reader.id in parent:
                    parent[find(reader.id)] = find(n.id)
        buckets: dict[str, list[Any]] = {}
        for n in members:
            buckets.setdefault(find(n.id), []).append(n)
        for bucket in buckets.values():
            if len(bucket) > 1:
                self.claim(kind, [rule], bucket)


def _in(node, i: int) -> str:
    """Input ``i`` of a node, "" when it has fewer (a malformed model's node may have any arity)."""
    inputs = node.inputs
    return inputs[i] if i < len(inputs) else ""


def _out(node) -> str:
    """The first output of a node, "" when it has none."""
    return node.outputs[0] if node.outputs else ""


def _pattern_name(nodes: list[Any]) -> str | None:
    ops = {n.op_type for n in nodes}
    if "Erf" in ops:
        return "GELU (erf) pointwise unit"
    if "Tanh" in ops and ("Pow" in ops or len([n for n in nodes if n.op_type == "Mul"]) >= 3):
        return "GELU (tanh) pointwise unit"
    if "Softplus" in ops and "Tanh" in ops:
        return "Mish pointwise unit"
    for sig in (n for n in nodes if n.op_type == "Sigmoid"):
        if any(m.op_type == "Mul" and set(m.inputs) == {_in(sig, 0), _out(sig)} for m in nodes):
            return "SiLU/Swish pointwise unit"
    return None


def predict_fusions(model, target: str = "tensorrt") -> list[FusionGroup]:
    """Groups of ONNX nodes TensorRT is expected to fuse, by its documented rules (a prediction: no build).

    ``model``: a loaded :class:`explorer.Model`, a path, bytes or a ModelProto. ``target``: "tensorrt"
    (TensorRT 10/11's documented fusions) or "tensorrt-rtx" (also the rules fitted to what TensorRT-RTX's
    Myelin compiler fused in real builds). Every node of the main graph appears in exactly one group;
    groups are in topological order of their first node.
    """
    from ..errors import ExplorerError
    from ..model import Model, load_model

    if target not in TARGETS:
        raise ExplorerError(f"unknown fusion target {target!r}; choose one of {', '.join(TARGETS)}")
    loaded = model if isinstance(model, Model) else load_model(model)
    return _Predictor(loaded, target).run()


__all__ = ["FusionGroup", "TARGETS", "TARGET_SOURCES", "predict_fusions"]
