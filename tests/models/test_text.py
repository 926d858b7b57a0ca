"""The text a voice is given: sentences, and numbers as words."""

from __future__ import annotations

import pytest

from voice_agent.models._text import sentences, spell_numbers


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("Set the heating to 21.5 degrees.", "Set the heating to twenty-one point five degrees."),
        ("A timer for 10 minutes", "A timer for ten minutes"),
        (
            "1,200 people, 3,000,005 votes",
            "one thousand two hundred people, three million five votes",
        ),
        (
            "the 1st, 2nd, 3rd, 12th, 21st and 40th",
            "the first, second, third, twelfth, twenty-first and fortieth",
        ),
        ("50% off at -4 degrees", "fifty percent off at minus four degrees"),
        (
            "at 7:30, 7:05, 9:00 or 19:00",
            "at seven thirty, seven oh five, nine o'clock or nineteen hundred",
        ),
        (
            "$5, $1.01 and €2.50",
            "five dollars, one dollar and one cent and two euros and fifty cents",
        ),
        ("in 2026 with 100 and 0", "in two thousand twenty-six with one hundred and zero"),
        ("agent 007", "agent zero zero seven"),
        # not one number: left as written
        ("python 3.11.7 at 10.0.0.1, call 555-1234", "python 3.11.7 at 10.0.0.1, call 555-1234"),
        ("an mp3 of B12", "an mp3 of B12"),
        ("打开10盏灯", "打开10盏灯"),
    ],
)
def test_numbers_are_written_out(written: str, said: str) -> None:
    assert spell_numbers(written) == said


def test_a_huge_number_is_read_digit_by_digit() -> None:
    assert spell_numbers("10000000000000000") == " ".join(["one"] + ["zero"] * 16)


def test_sentences() -> None:
    assert sentences("  First one. Second!  Third?\nFourth") == [
        "First one.",
        "Second!",
        "Third?",
        "Fourth",
    ]
    assert sentences("你好。再见！") == ["你好。", "再见！"]
    assert sentences("3.5 is a number. e.g.this") == ["3.5 is a number.", "e.g.this"]
    assert sentences("   ") == []
