"""Where a GPU-profile model runs, and in which precision."""

from __future__ import annotations

import contextlib

import torch

from voice_agent.errors import ConfigError

__all__ = ["ModelStream", "resolve_device"]


def resolve_device(device: str) -> tuple[torch.device, torch.dtype]:
    """``cpu`` → fp32; ``cuda``/``cuda:N`` → bf16 (the released weights' dtype).

    Raises:
        ConfigError: CUDA asked for but not available, or an unknown device.
    """
    if device == "cpu":
        return torch.device("cpu"), torch.float32
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device {device!r} asked for, but torch sees no CUDA GPU here "
                f"(torch {torch.__version__}); use device='cpu' or install a CUDA build of torch"
            )
        return torch.device(device), torch.bfloat16
    raise ConfigError(f"unknown device {device!r}; use 'cpu', 'cuda' or 'cuda:N'")


class ModelStream:
    """One model's own CUDA stream, entered around each of its generation calls.

    Two models on one GPU (the understanding model and the TTS) run in different worker
    threads; on PyTorch's default stream their kernels would queue behind each other, so a
    long TTS flow step would hold up the next understanding token. Each model's kernels go to
    its own stream instead and the GPU interleaves them. On the CPU this is a no-op.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.stream = (
            torch.cuda.Stream(device)  # type: ignore[no-untyped-call]
            if device.type == "cuda"
            else None
        )

    def __call__(self) -> contextlib.AbstractContextManager[object]:
        """The context that routes this thread's kernels to the model's stream."""
        if self.stream is None:
            return contextlib.nullcontext()
        return torch.cuda.stream(self.stream)
