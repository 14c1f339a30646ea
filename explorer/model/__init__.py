"""Model loading: ONNX file -> the explorer's IR (:mod:`explorer.model.ir`)."""

from .ir import ExternalData, FunctionInfo, Graph, InitializerInfo, Model, Node, TensorInfo
from .loader import load_model

__all__ = ["ExternalData", "FunctionInfo", "Graph", "InitializerInfo", "Model", "Node", "TensorInfo", "load_model"]
