"""Fusion prediction on a long pointwise chain (20,000 Relu/Neg/Abs nodes in a row): the search must stay
linear (it was quadratic once: minutes). The test checks the grouping; this measures the time.

    .venv/bin/python bench/fusion_chain.py [--nodes 20000]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from onnx import TensorProto, helper  # noqa: E402

import explorer  # noqa: E402


def chain_model(count: int):
    nodes, prev = [], "x"
    for i in range(count):
        nodes.append(helper.make_node(("Relu", "Neg", "Abs")[i % 3], [prev], [f"t{i}"], name=f"n{i}"))
        prev = f"t{i}"
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                              [helper.make_tensor_value_info(prev, TensorProto.FLOAT, None)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=20_000)
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for count in (args.nodes // 10, args.nodes):
            model = explorer.load_model(chain_model(count), infer_shapes=False)
            start = time.perf_counter()
            groups = explorer.predict_fusions(model)
            seconds = time.perf_counter() - start
            print(f"{count:>7} nodes: {seconds:.3f} s ({len(groups)} groups; time.perf_counter around "
                  "explorer.predict_fusions)")


if __name__ == "__main__":
    main()
