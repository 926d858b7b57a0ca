"""The text a voice is given: sentences, and numbers as words."""

from __future__ import annotations

import pytest

from voice_agent.models._text import _zh_cardinal, chinese_numbers, sentences, spell_numbers


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
        ("打开10盏灯", "打开十盏灯"),
        ("また10時に", "また10時に"),  # Japanese: readings not attempted
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


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("把温度设为21.5度。", "把温度设为二十一点五度。"),
        ("买1,200个", "买一千二百个"),
        ("电量还有50%，室外-4度", "电量还有百分之五十，室外负四度"),
        ("明天7:05叫醒我，12:00开会", "明天七点零五分叫醒我，十二点开会"),
        ("2024年6月15日", "二零二四年六月十五日"),
        ("2个人，2点，第2名，2号", "两个人，两点，第二名，二号"),
        ("房间007", "房间零零七"),
        ("设为21度", "设为二十一度"),
        ("一共2", "一共二"),
        # not one number, or not Chinese: left as written
        ("版本3.11.7，电话555-1234", "版本3.11.7，电话555-1234"),
        ("播放mp3和B12，3D打印", "播放mp3和B12，3D打印"),
    ],
)
def test_chinese_numbers_are_read_in_chinese(written: str, said: str) -> None:
    assert spell_numbers(written) == said
    assert chinese_numbers(written) == said


@pytest.mark.parametrize(
    ("number", "said"),
    [
        (0, "零"),
        (10, "十"),
        (15, "十五"),
        (20, "二十"),
        (105, "一百零五"),
        (110, "一百一十"),
        (1020, "一千零二十"),
        (1001, "一千零一"),
        (10005, "一万零五"),
        (10100, "一万零一百"),
        (12345, "一万二千三百四十五"),
        (100000, "十万"),
        (300000001, "三亿零一"),
        (100010000, "一亿零一万"),
        (10**12, "一" + "零" * 12),
    ],
)
def test_chinese_cardinals_put_zero_where_a_place_is_skipped(number: int, said: str) -> None:
    assert _zh_cardinal(number) == said
