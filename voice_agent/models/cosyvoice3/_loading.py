"""Reading ``llm.pt``/``flow.pt``/``hift.pt`` into our modules by their official names (weight
norm folded), every mismatch listed."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from voice_agent.errors import ModelLoadError
from voice_agent.models._checkpoint import CheckpointReport, MisShaped

__all__ = ["fold_weight_norm", "load_state"]

# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def fold_weight_norm(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Weight-normalised tensors (``X.parametrizations.weight.original0/1`` as torch ≥ 2.1 saves
    them, or ``X.weight_g/X.weight_v`` as older torch did) → ``X.weight = g · v / ‖v‖``."""
    out: dict[str, torch.Tensor] = {}
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for name, tensor in state.items():
        for g_suffix, v_suffix in (
            (".parametrizations.weight.original0", ".parametrizations.weight.original1"),
            (".weight_g", ".weight_v"),
        ):
            if name.endswith(g_suffix):
                pairs.setdefault(name[: -len(g_suffix)], {})["g"] = tensor
                break
            if name.endswith(v_suffix):
                pairs.setdefault(name[: -len(v_suffix)], {})["v"] = tensor
                break
        else:
            out[name] = tensor
    for base, pair in pairs.items():
        if set(pair) != {"g", "v"}:
            raise ModelLoadError(f"weight-normalised {base} has only its {'/'.join(pair)} part")
        g, v = pair["g"].float(), pair["v"].float()
        norm = v.flatten(1).norm(dim=1).view(-1, *([1] * (v.dim() - 1)))
        out[base + ".weight"] = (g * v / norm).to(pair["v"].dtype)
    return out


def load_state(module: nn.Module, path: Path, *, strip: str = "") -> CheckpointReport:
    """Copy a ``.pt`` state dict into ``module`` by name, the tensors that fit; the report
    lists every unknown, missing or mis-shaped one (the caller refuses the directory then).
    Tied (``lm_head``) and derivable (``inv_freq``) copies may be absent."""
    if not path.is_file():
        raise ModelLoadError(f"{path.name} is missing from {path.parent}; download it again")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ModelLoadError(f"{path} is not a readable torch state dict: {e}") from e
    if not isinstance(raw, dict):
        raise ModelLoadError(f"{path} holds a {type(raw).__name__}, not a state dict")
    state = fold_weight_norm({k.removeprefix(strip): v for k, v in raw.items()})
    own = module.state_dict()
    optional = ("lm_head.weight", "rotary_embed.inv_freq")
    report = CheckpointReport(
        file=path.name,
        unknown=sorted(set(state) - set(own)),
        missing=sorted(k for k in set(own) - set(state) if not k.endswith(optional)),
        mis_shaped=[
            MisShaped(name=k, checkpoint=tuple(v.shape), expected=tuple(own[k].shape))
            for k, v in sorted(state.items())
            if k in own and tuple(v.shape) != tuple(own[k].shape)
        ],
    )
    wrong = {m.name for m in report.mis_shaped}
    fitting = {k: v for k, v in state.items() if k in own and k not in wrong}
    module.load_state_dict(fitting, strict=False)
    report.loaded = len(fitting)
    return report
