"""Fun-CosyVoice3-0.5B (FunAudioLLM/Fun-CosyVoice3-0.5B-2512): text + instruction → 24 kHz speech.

One package for the checkpoint (a module per stage: ``_config`` reads the yaml, ``_lm``,
``_flow``, ``_vocoder``, ``_features`` for the speaker prompt, ``_onnx``, ``_loading``;
``_runtime`` drives them, and ``_tts`` is the one class the agent speaks through,
:class:`CosyVoice3TTS`, a :class:`~voice_agent.models.protocols.TextToSpeech` that turns the
policy's instruction into the instruct text of ``_instruct``), our own code on the torch and
transformers this project uses (the official code pins torch 2.3.1 and is not a package). It
reads the official model directory as downloaded — ``cosyvoice3.yaml`` (hyperparameters; read as
data, nothing in it is executed), ``llm.pt``, ``flow.pt``, ``hift.pt`` (state dicts with the
official names), ``CosyVoice-BlankEN/`` (the Qwen2 config and tokenizer), ``campplus.onnx`` and
``speech_tokenizer_v3.onnx`` — and runs the three stages:

1. **Speech-token LM** (``llm.pt``): Qwen2 (transformers' ``Qwen2ForCausalLM``, only its
   backbone is run) reads ``[sos] instruct + text [task]`` as embeddings and writes 25 Hz speech
   tokens through ``llm_decoder``; each token is fed back through ``speech_embedding``. Any id ≥
   the codebook size stops. Sampling is repetition-aware nucleus sampling (top-p 0.8, top-k 25;
   a token repeated within the last 10 is re-drawn from the whole distribution), from the yaml.
2. **Flow matching** (``flow.pt``): tokens (the speaker prompt's first) are embedded, passed
   through a causal look-ahead convolution, repeated ×2 (→ 50 Hz mel frames) and turned into an
   80-bin mel by a DiT velocity field integrated with 10 Euler steps on a cosine schedule,
   classifier-free guidance 0.7, from a fixed noise (seed 0) so re-running on a longer prefix
   reproduces the frames already spoken. Streaming uses the DiT's chunk mask (50 frames).
3. **HiFT vocoder** (``hift.pt``): a causal neural-source-filter + iSTFT generator. An f0
   predictor (run in float64, as the official code notes it must be) drives a harmonic sine
   source; mel and source are fused through causal upsampling convolutions and Snake residual
   blocks into an STFT (n_fft 16, hop 4) that is inverted to 24 kHz audio. Weight-normalised
   convolutions are folded into plain weights at load time (either naming torch uses).

The speaker prompt (any recording; by default our Piper voice) gives the flow stage its
prompt tokens (``speech_tokenizer_v3.onnx`` over a 128-bin Whisper log-mel), its prompt mel
(the file read at 24 kHz; the other two at 16 kHz) and a speaker embedding (``campplus.onnx``
over an 80-bin Kaldi fbank); both ONNX models run in onnxruntime. In instruct mode, as in the
official ``inference_instruct2``, the LM sees the instruction text and no prompt tokens.

Text is prepared as the official frontend's default does in spirit (``text_frontend=True``):
English numbers become words ("21.5" → "twenty-one point five") and the text is spoken sentence
by sentence; Chinese numbers are left as written (the official code uses wetext for those).

Streaming follows the official schedule: a first hop of 25 tokens (padded so the prompt and the
first hop fill whole 25-token chunks), hops doubling up to 100, 3 tokens of look-ahead; each hop
re-runs the flow and vocoder over everything so far and emits only the new samples.

On CUDA the LM runs in bf16 and the flow and vocoder in fp32; on the CPU everything is fp32.
What differs from the official code on purpose: the min-length rule suppresses every stop id
(the official v3 code suppresses only one of them), and the vocoder's fixed noise is drawn per
second from seeded generators instead of a 260 MB table (the same role: repeatable prefixes).
"""

from voice_agent.models.cosyvoice3._config import CosyVoice3Config, read_hyperparameters
from voice_agent.models.cosyvoice3._features import (
    SpeakerPrompt,
    kaldi_fbank,
    prompt_mel,
    whisper_log_mel,
)
from voice_agent.models.cosyvoice3._flow import CausalFlow
from voice_agent.models.cosyvoice3._instruct import instruct_text
from voice_agent.models.cosyvoice3._lm import SpeechLM
from voice_agent.models.cosyvoice3._loading import fold_weight_norm
from voice_agent.models.cosyvoice3._runtime import CosyVoice3, text_pieces
from voice_agent.models.cosyvoice3._tts import CosyVoice3TTS, default_prompt
from voice_agent.models.cosyvoice3._vocoder import HiFTVocoder

__all__ = [
    "CausalFlow",
    "CosyVoice3",
    "CosyVoice3Config",
    "CosyVoice3TTS",
    "HiFTVocoder",
    "SpeakerPrompt",
    "SpeechLM",
    "default_prompt",
    "fold_weight_norm",
    "instruct_text",
    "kaldi_fbank",
    "prompt_mel",
    "read_hyperparameters",
    "text_pieces",
    "whisper_log_mel",
]
