"""The understanding model and the TTS on one device: alone, side by side, and one after another.

Run by hand: ``python benchmarks/gpu_scheduling.py [--reps N]``. On this project's machines
there is no GPU, so it runs the gpu profile's two real models — Fun-Audio-Chat (ours) and
CosyVoice3 (ours) — on tiny random checkpoints of the official layout, on the CPU. It measures:

- **alone**: Fun-Audio-Chat answering a spoken request (audio encoder + up to 256 tokens), and
  CosyVoice3 speaking a sentence (time to the first streamed chunk, and to the end);
- **side by side**: both at once, each in its own worker thread, as in a live turn where the
  next reply step is decoded while the previous sentence is being spoken;
- **one after another** (the baseline): a single lock around both models, the simple way to
  share one device, so speech waits for the understanding step.

What carries over to a GPU is the shape, not the numbers: on the CPU both models compete for
the same two cores; on a GPU each runs on its own CUDA stream (``models/_device.ModelStream``)
and the kernels interleave. The README's GPU section gives the plan.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from voice_agent.audio import Audio, load_audio
from voice_agent.models.cosyvoice import CosyVoiceTTS
from voice_agent.models.funaudiochat import FunAudioChat
from voice_agent.models.protocols import TTSInstruction, UnderstandingRequest
from voice_agent.testing.tiny_checkpoints import write_tiny_cosyvoice3, write_tiny_funaudiochat

HOME = Path(__file__).resolve().parents[1] / "examples" / "home"
SENTENCE = "Done. I added two bottles of milk to your shopping list, and the kitchen light is on."


class Models:
    def __init__(self, root: Path) -> None:
        self.fac = FunAudioChat(write_tiny_funaudiochat(root / "fac"), device="cpu")
        self.tts = CosyVoiceTTS(
            write_tiny_cosyvoice3(root / "cv3"), device="cpu", prompt_wav=HOME / "add_milk.wav"
        )
        self.audio = load_audio(HOME / "add_milk.wav")
        self.lock = asyncio.Lock()  # only used by the one-after-another baseline
        self.serial = False

    def turn(self) -> contextlib.AbstractAsyncContextManager[object]:
        """The one-after-another baseline holds one lock around each model's work."""
        return self.lock if self.serial else contextlib.nullcontext()

    async def understand(self) -> dict[str, float]:
        start = time.perf_counter()
        async with self.turn():
            # a new recording each time, as in a live loop (the encoder runs every turn)
            audio = Audio(samples=self.audio.samples.copy(), sample_rate=self.audio.sample_rate)
            await self.fac.complete(UnderstandingRequest(audio=audio))
        return {"understand_s": time.perf_counter() - start}

    async def speak(self) -> dict[str, float]:
        start = time.perf_counter()
        first = None
        async with self.turn():
            async for _ in self.tts.synthesize(SENTENCE, TTSInstruction(emotion="happy")):
                first = first or time.perf_counter() - start
        return {"first_audio_s": first or 0.0, "speak_s": time.perf_counter() - start}


async def measure(reps: int, *tasks: Callable[[], Awaitable[dict[str, float]]]) -> dict[str, float]:
    runs: dict[str, list[float]] = {}
    for _ in range(reps):
        for result in await asyncio.gather(*(task() for task in tasks)):
            for key, value in result.items():
                runs.setdefault(key, []).append(value)
    return {key: statistics.median(values) for key, values in runs.items()}


async def main(reps: int) -> None:
    console = Console(width=120)
    with tempfile.TemporaryDirectory() as tmp:
        models = Models(Path(tmp))
        with console.status("loading and warming both models"):
            await models.understand()
            await models.speak()
        rows: dict[str, dict[str, float]] = {}
        with console.status(f"alone ({reps} runs each)"):
            rows["alone"] = await measure(reps, models.understand)
            rows["alone"].update(await measure(reps, models.speak))
        with console.status("side by side"):
            rows["side by side"] = await measure(reps, models.understand, models.speak)
        models.serial = True
        with console.status("one after another (one lock)"):
            rows["one after another"] = await measure(reps, models.understand, models.speak)
    table = Table(title=f"Fun-Audio-Chat + CosyVoice3 on one device (tiny, CPU, median of {reps})")
    table.add_column("schedule")
    for key in ("understand_s", "first_audio_s", "speak_s"):
        table.add_column(key, justify="right")
    table.add_column("first audio vs alone", justify="right")
    table.add_column("understand vs alone", justify="right")
    alone = rows["alone"]
    for name, row in rows.items():
        table.add_row(
            name,
            *(f"{row[k]:.2f}" for k in ("understand_s", "first_audio_s", "speak_s")),
            f"{row['first_audio_s'] / alone['first_audio_s']:.2f}x",
            f"{row['understand_s'] / alone['understand_s']:.2f}x",
        )
    console.print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    asyncio.run(main(parser.parse_args().reps))
