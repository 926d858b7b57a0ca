"""The loaded model directory: speaker prompt, speech tokens, token → waveform, and speech for
a text with the streaming schedule (spoken to the agent by :class:`CosyVoice3TTS`)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from voice_agent.audio import load_audio
from voice_agent.errors import ModelLoadError
from voice_agent.log import get_logger
from voice_agent.models._checkpoint import CheckpointMismatch
from voice_agent.models._device import ModelStream, resolve_device
from voice_agent.models._text import sentences, spell_numbers
from voice_agent.models.cosyvoice3._config import (
    ADDED_TOKENS,
    END_OF_PROMPT,
    MAX_SILENT_RUN,
    MAX_TOKEN_HOP,
    SILENT_TOKENS,
    TOKEN_HOP,
    CosyVoice3Config,
)
from voice_agent.models.cosyvoice3._features import (
    SpeakerPrompt,
    kaldi_fbank,
    prompt_mel,
    whisper_log_mel,
)
from voice_agent.models.cosyvoice3._flow import CausalFlow
from voice_agent.models.cosyvoice3._lm import SpeechLM
from voice_agent.models.cosyvoice3._loading import load_state
from voice_agent.models.cosyvoice3._onnx import onnx_session
from voice_agent.models.cosyvoice3._vocoder import HiFTVocoder

__all__ = ["CosyVoice3", "text_pieces"]

log = get_logger(__name__)

# ---------------------------------------------------------------------------------------------
# The runtime
# ---------------------------------------------------------------------------------------------


class CosyVoice3:
    """A loaded Fun-CosyVoice3 model directory: text and instruct text in, waveform pieces out
    (:class:`~voice_agent.models.cosyvoice3.CosyVoice3TTS` is its voice for the agent)."""

    def __init__(self, directory: str | Path, *, device: str = "cpu", seed: int = 0) -> None:
        self.directory = Path(directory).expanduser()
        self.device, self.dtype = resolve_device(device)
        self.seed = seed
        d = self.directory
        if not (d / "cosyvoice3.yaml").is_file():
            raise ModelLoadError(f"{d} has no cosyvoice3.yaml: not a Fun-CosyVoice3 directory")
        blank = d / "CosyVoice-BlankEN"
        if not (blank / "config.json").is_file():
            raise ModelLoadError(f"{blank}/config.json is missing (the Qwen2 configuration)")
        self.config = CosyVoice3Config.from_yaml(d / "cosyvoice3.yaml")
        self.sample_rate = self.config.sample_rate
        from transformers import AutoConfig, AutoTokenizer

        qwen_config = AutoConfig.from_pretrained(str(blank))
        qwen_config._attn_implementation = "sdpa"
        self.tokenizer = AutoTokenizer.from_pretrained(str(blank))
        self.tokenizer.add_special_tokens(
            {"additional_special_tokens": ADDED_TOKENS}, replace_extra_special_tokens=False
        )
        self.end_of_prompt_id = self.tokenizer.convert_tokens_to_ids(END_OF_PROMPT)
        with torch.device("cpu"):
            self.lm = SpeechLM(qwen_config, self.config).eval()
            self.flow = CausalFlow(self.config).eval()
            self.hift = HiFTVocoder(self.config).eval()
        self.checkpoint = [
            load_state(self.lm, d / "llm.pt"),
            load_state(self.flow, d / "flow.pt"),
            load_state(self.hift, d / "hift.pt", strip="generator."),
        ]
        """What each of llm.pt, flow.pt and hift.pt held against the yaml's modules."""
        if not all(r.ok for r in self.checkpoint):
            raise CheckpointMismatch(
                str(d),
                self.checkpoint,
                "tensor names or shapes differ from the yaml's sizes: is this a Fun-CosyVoice3 "
                "directory, complete and unmodified?",
            )
        counts = {r.file.removesuffix(".pt"): r.loaded for r in self.checkpoint}
        if self.lm.llm.model.config.tie_word_embeddings:
            self.lm.llm.model.tie_weights()
        self.lm.to(self.device, self.dtype)
        self.flow.to(self.device)
        self.hift.to(self.device)
        self._campplus = onnx_session(d / "campplus.onnx", "cpu")
        self._speech_tokenizer = onnx_session(d / "speech_tokenizer_v3.onnx", device)
        self._prompts: dict[str, SpeakerPrompt] = {}
        self._lock = threading.Lock()
        self._stream = ModelStream(self.device)
        log.info("cosyvoice3.loaded", directory=str(d), device=str(self.device), **counts)

    # -- prompt ----------------------------------------------------------------------------

    def speaker_prompt(self, wav: str | Path) -> SpeakerPrompt:
        """Tokens, mel and speaker embedding of a recording (computed once per file)."""
        key = str(Path(wav).resolve())
        if key in self._prompts:
            return self._prompts[key]
        # The mel at the model's own rate, from the file (as the official frontend loads it):
        # made from a 16 kHz copy it would be empty above 8 kHz and the voice muffled. The
        # speech tokenizer and the speaker embedding were trained on 16 kHz, so they get that.
        full = load_audio(wav, rate=self.sample_rate, max_seconds=30.0)
        audio = load_audio(wav, rate=16000, max_seconds=30.0)
        feats = whisper_log_mel(audio.samples)
        inputs = self._speech_tokenizer.get_inputs()
        tokens = self._speech_tokenizer.run(
            None,
            {
                inputs[0].name: feats.numpy(),
                inputs[1].name: np.array([feats.shape[2]], dtype=np.int32),
            },
        )[0]
        token_tensor = torch.as_tensor(np.asarray(tokens).reshape(1, -1), dtype=torch.long)
        fbank = kaldi_fbank(audio.samples)
        fbank = fbank - fbank.mean(dim=0, keepdim=True)
        name = self._campplus.get_inputs()[0].name
        embedding = self._campplus.run(None, {name: fbank.unsqueeze(0).numpy()})[0]
        mel = prompt_mel(full.samples, self.config)
        # As the official frontend: two mel frames per token, cut to the shorter of the two.
        n = min(mel.shape[1] // self.config.token_mel_ratio, token_tensor.shape[1])
        prompt = SpeakerPrompt(
            tokens=token_tensor[:, :n].to(self.device),
            mel=mel[:, : n * self.config.token_mel_ratio].to(self.device),
            embedding=torch.as_tensor(np.asarray(embedding, np.float32).reshape(1, -1)).to(
                self.device
            ),
        )
        self._prompts[key] = prompt
        return prompt

    # -- synthesis -------------------------------------------------------------------------

    def speech_tokens(
        self, text: str, instruct_text: str, stopped: Callable[[], bool] = lambda: False
    ) -> Iterator[int]:
        """The LM's speech tokens for ``text`` said as ``instruct_text`` asks (runs of more
        than five silence tokens shortened)."""
        if END_OF_PROMPT not in instruct_text:
            instruct_text += END_OF_PROMPT
        prompt_ids = self.tokenizer(instruct_text, add_special_tokens=False)["input_ids"]
        text_ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([prompt_ids + text_ids], dtype=torch.long, device=self.device)
        silent = 0
        for token in self.lm.generate(
            ids, text_tokens=len(text_ids), seed=self.seed, stopped=stopped
        ):
            silent = silent + 1 if token in SILENT_TOKENS else 0
            if silent <= MAX_SILENT_RUN:
                yield token

    def token2wav(
        self,
        tokens: list[int],
        prompt: SpeakerPrompt,
        state: dict[str, Any],
        *,
        streaming: bool,
        finalize: bool,
        speed: float = 1.0,
    ) -> torch.Tensor:
        """New samples for ``tokens`` (all so far) after ``state["offset"]`` tokens already
        spoken; ``state`` keeps the mel so far and the samples already returned."""
        token_tensor = torch.tensor([tokens], dtype=torch.long, device=self.device)
        mel = self.flow.mel(
            token_tensor,
            prompt.tokens,
            prompt.mel,
            prompt.embedding,
            streaming=streaming,
            finalize=finalize,
        )[:, :, state["offset"] * self.config.token_mel_ratio :]
        if state.get("mel") is not None:
            mel = torch.cat([state["mel"], mel], dim=2)
        state["mel"] = mel
        if speed != 1.0:
            mel = F.interpolate(mel, size=max(1, int(mel.shape[2] / speed)), mode="linear")
        audio: torch.Tensor = self.hift(mel, finalize=finalize)[:, state.get("samples", 0) :]
        state["samples"] = state.get("samples", 0) + audio.shape[1]
        return audio

    def speech(
        self,
        text: str,
        instruct_text: str,
        prompt_wav: str | Path,
        *,
        stream: bool = False,
        speed: float = 1.0,
        text_frontend: bool = True,
        stopped: Callable[[], bool] = lambda: False,
    ) -> Iterator[torch.Tensor]:
        """Speech for ``text`` as ``instruct_text`` asks, in the voice of ``prompt_wav``: (1, n)
        float tensors at 24 kHz, on the CPU, in order; ``stopped`` is checked before every
        speech token (barge-in).

        With ``text_frontend`` (the official default) English numbers are written out as words
        and each sentence is synthesized in turn, so the first sentence is heard while the next
        is made and the LM never sees a paragraph; without streaming each sentence is one piece.
        """
        if stream and speed != 1.0:
            raise ValueError("speed ≠ 1 works only on whole replies (stream=False)")
        pieces = text_pieces(text) if text_frontend else [text]
        # One synthesis at a time per loaded model, on the model's own CUDA stream (so the
        # understanding model on the same GPU is not queued behind the flow and vocoder).
        with self._lock, self._stream():
            prompt = self.speaker_prompt(prompt_wav)
            for piece in pieces:
                if stopped():
                    return
                yield from self._sentence(piece, instruct_text, prompt, stream, speed, stopped)

    def _sentence(
        self,
        text: str,
        instruct_text: str,
        prompt: SpeakerPrompt,
        stream: bool,
        speed: float,
        stopped: Callable[[], bool],
    ) -> Iterator[torch.Tensor]:
        """One sentence: streaming hops while its speech tokens come, then the rest."""
        state: dict[str, Any] = {"offset": 0}
        tokens: list[int] = []
        lookahead = self.config.pre_lookahead_len
        hop = TOKEN_HOP
        # The first hop is padded so prompt + first hop fill whole chunks of the DiT's mask.
        pad = -prompt.tokens.shape[1] % TOKEN_HOP
        for token in self.speech_tokens(text, instruct_text, stopped):
            tokens.append(token)
            this_hop = hop + pad if state["offset"] == 0 else hop
            if stream and len(tokens) - state["offset"] >= this_hop + lookahead:
                chunk = tokens[: state["offset"] + this_hop + lookahead]
                audio = self.token2wav(chunk, prompt, state, streaming=True, finalize=False)
                state["offset"] += this_hop
                hop = min(MAX_TOKEN_HOP, hop * 2)
                yield audio.cpu()
        if stopped() or not tokens:
            return
        # The last piece with full attention, as the official code does.
        audio = self.token2wav(tokens, prompt, state, streaming=False, finalize=True, speed=speed)
        yield audio.cpu()


def text_pieces(text: str) -> list[str]:
    """What the text front end speaks, piece by piece: sentences with English numbers in words.

    As the official front end: text carrying ``<|…|>`` markup is left untouched (one piece,
    not normalized), and pieces of punctuation only are dropped (nothing to say). Unlike it we
    split per sentence instead of into 60–80-token paragraphs, for the first audio's sake.
    """
    if "<|" in text and "|>" in text:
        return [text]
    return [p for p in sentences(spell_numbers(text)) if any(c.isalnum() for c in p)]
