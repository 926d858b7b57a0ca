"""The two ONNX models of the directory (``campplus.onnx``, ``speech_tokenizer_v3.onnx``) in
onnxruntime, on the GPU when its provider is there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from voice_agent.errors import ModelLoadError

__all__ = ["onnx_session"]


def onnx_session(path: Path, device: str) -> Any:
    if not path.is_file():
        raise ModelLoadError(f"{path.name} is missing from {path.parent}; download it again")
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    providers = ["CPUExecutionProvider"]
    available = onnxruntime.get_available_providers()
    if device.startswith("cuda") and "CUDAExecutionProvider" in available:
        providers.insert(0, "CUDAExecutionProvider")
    try:
        return onnxruntime.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as e:
        raise ModelLoadError(f"{path} is not a loadable ONNX model: {e}") from e
