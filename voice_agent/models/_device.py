"""Where a GPU-profile model runs, and in which precision."""

from __future__ import annotations

import torch

from voice_agent.errors import ConfigError

__all__ = ["resolve_device"]


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
