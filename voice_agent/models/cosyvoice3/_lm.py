"""Stage 1, the speech-token LM (``llm.pt``): Qwen2 over instruct + text, writing 25 Hz speech
tokens with repetition-aware sampling."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from voice_agent.models.cosyvoice3._config import CosyVoice3Config

__all__ = ["SpeechLM"]

# ---------------------------------------------------------------------------------------------
# 1. Speech-token LM
# ---------------------------------------------------------------------------------------------


class _Qwen2(nn.Module):
    """Holds the Qwen2 model under the official name (``llm.model.…``)."""

    def __init__(self, qwen_config: Any) -> None:
        super().__init__()
        from transformers import Qwen2ForCausalLM

        self.model = Qwen2ForCausalLM(qwen_config)


class SpeechLM(nn.Module):
    """Qwen2 writing speech tokens (the official ``CosyVoice3LM``'s inference path).

    Ids ``speech_token_size + k`` are control ids: k=0 start, k=1 end, k=2 "task" (start of
    speech), the rest unused; all of them stop generation.
    """

    def __init__(self, qwen_config: Any, config: CosyVoice3Config) -> None:
        super().__init__()
        hidden = int(qwen_config.hidden_size)
        self.speech_token_size = config.speech_token_size
        self.config = config
        self.llm = _Qwen2(qwen_config)
        self.llm_decoder = nn.Linear(hidden, config.speech_token_size + 200, bias=False)
        self.speech_embedding = nn.Embedding(config.speech_token_size + 200, hidden)

    def _sample(self, logp: torch.Tensor, history: list[int], generator: torch.Generator) -> int:
        """Repetition-aware nucleus sampling (VALL-E 2), on log-probabilities."""
        c = self.config
        probs = logp.float().softmax(-1)
        sorted_probs, order = probs.sort(descending=True, stable=True)
        keep = min(c.top_k, int((sorted_probs.cumsum(0) < c.top_p).sum().item()) + 1)
        pick = int(torch.multinomial(sorted_probs[:keep], 1, generator=generator).item())
        token = int(order[pick].item())
        if sum(t == token for t in history[-c.win_size :]) >= c.win_size * c.tau_r:
            probs[token] = 0.0
            if float(probs.sum()) > 0:
                token = int(torch.multinomial(probs, 1, generator=generator).item())
        return token

    @torch.inference_mode()
    def generate(
        self,
        ids: torch.Tensor,
        *,
        text_tokens: int,
        min_ratio: float = 2.0,
        max_ratio: float = 20.0,
        seed: int = 0,
        stopped: Callable[[], bool] = lambda: False,
    ) -> Iterator[int]:
        """Speech tokens for ``ids`` (instruction + text token ids, shape ``(1, n)``); between
        ``min_ratio`` and ``max_ratio`` tokens per text token."""
        from transformers import DynamicCache

        backbone = self.llm.model.model
        weight = self.speech_embedding.weight
        s = self.speech_token_size
        inputs = torch.cat(
            [weight[s].view(1, 1, -1), backbone.embed_tokens(ids), weight[s + 2].view(1, 1, -1)],
            dim=1,
        )
        min_len, max_len = int(text_tokens * min_ratio), max(1, int(text_tokens * max_ratio))
        generator = torch.Generator().manual_seed(seed)
        cache = DynamicCache()
        history: list[int] = []
        for step in range(max_len):
            if stopped():
                return
            out = backbone(inputs_embeds=inputs, past_key_values=cache, use_cache=True)
            logp = self.llm_decoder(out.last_hidden_state[:, -1]).float().log_softmax(-1)[0].cpu()
            if step < min_len:
                logp[s:] = -math.inf
            token = self._sample(logp, history, generator)
            if token >= s:
                return
            history.append(token)
            yield token
            inputs = weight[token].view(1, 1, -1)
