"""The words a user will say to these tools, for biasing speech recognition.

A small recognizer (Whisper tiny.en) mishears exactly the words a tool pack depends on: room
names, "thermostat", "6 pm" (REFERENCE.md §8: "At the bedroom, thermostat. 61 degrees" for "Set
the bedroom thermostat to 21 degrees"). Told which words to expect, it hears them. Those words
are in the tools' own schemas, so they are collected here, automatically, from any tool's
OpenAI-format schema whatever its origin: tool names split into words, enum values, literals
and examples in the descriptions, string defaults and ``examples``, parameter names; then the
words of the recent turns (a name said once is said again: "make that two oat milks").

The result is a list of phrases, most useful first; the recognizer joins and caps them to what
its model accepts (it knows its own tokenizer, the tool layer does not).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from voice_agent.tools._types import ArgumentProblem

__all__ = [
    "description_copies",
    "description_copy_problems",
    "recent_words",
    "spoken_numbers",
    "tool_vocabulary",
    "unsaid_example_problems",
    "unsaid_examples",
    "unsaid_numbers",
]

_QUOTED = re.compile(r"\"([^\"\n]{1,40})\"|'([^'\n]{1,40})'|`([^`\n]{1,40})`|“([^”\n]{1,40})”")
_EXAMPLE = re.compile(
    r"\b(?:e\.g\.|for example|for instance|such as|like)\s*[:,]?\s*([^;()\n]+?)(?=[.;)\n]|$)",
    re.IGNORECASE,
)
_SPLIT_NAME = re.compile(r"[_\-.\s/]+|(?<=[a-z0-9])(?=[A-Z])")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’-]*")
_FUNCTION_WORDS = (
    "a an and any are as at be but by can could do for "
    "from had has have he her his how i if in into is it "
    "its me my no not now of off on one or our please set "
    "she so than that the their them then there these they this to turn "
    "up us was we were what when which will with would you your yes "
    "okay ok just also some make it's i'm don't"
)
_STOP = frozenset(_FUNCTION_WORDS.split())
"""Function words: heard fine, and they would crowd the names out."""
_MAX_PHRASE_WORDS = 4
"""Longer 'examples' are sentences, not vocabulary."""


def _name_words(name: str) -> str:
    """``set_light`` / ``setLight`` / ``home.set-light`` → ``set light``."""
    return " ".join(p for p in _SPLIT_NAME.split(name) if p).lower()


def _literals(description: str) -> Iterator[str]:
    """Quoted strings and what follows "e.g." / "such as" in a description."""
    for match in _QUOTED.finditer(description):
        yield next(g for g in match.groups() if g)
    for match in _EXAMPLE.finditer(description):
        for piece in re.split(r",|\bor\b|\band\b", match.group(1)):
            yield piece.strip(" \"'`“”")


def _schema_values(schema: Any) -> Iterator[str]:
    """Enum values, string consts/defaults/examples and description literals, depth first."""
    if not isinstance(schema, Mapping):
        return
    for value in schema.get("enum", ()) or ():
        if isinstance(value, str):
            yield value
    for key in ("const", "default"):
        if isinstance(schema.get(key), str):
            yield schema[key]
    for value in schema.get("examples", ()) or ():
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            yield str(value)
    if isinstance(schema.get("description"), str):
        yield from _literals(schema["description"])
    for key in ("properties", "$defs", "definitions"):
        if isinstance(schema.get(key), Mapping):
            for sub in schema[key].values():
                yield from _schema_values(sub)
    for key in ("items", "additionalProperties"):
        yield from _schema_values(schema.get(key))
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, ()) or ():
            yield from _schema_values(sub)


def _function(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    inner = schema.get("function")
    return inner if isinstance(inner, Mapping) else schema


def _unique(phrases: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for phrase in phrases:
        phrase = " ".join(phrase.split())
        key = phrase.lower()
        if phrase and key not in seen and len(phrase.split()) <= _MAX_PHRASE_WORDS:
            seen.add(key)
            out.append(phrase)
    return out


def tool_vocabulary(schemas: Iterable[Mapping[str, Any]]) -> list[str]:
    """The phrases a user is likely to say to these tools, most useful first.

    Order: every tool's name as words (``add to shopping list``), then enum values, literals
    and examples from the schemas and descriptions (``living room``, ``milk``, ``6 pm``), then
    parameter names as words (``brightness``). A recognizer that must cap the list keeps its
    head, so a large tool pack loses parameter names before it loses tool names.

    Args:
        schemas: OpenAI-format function dicts (``Tool.schema``), bare or wrapped in
            ``{"type": "function", "function": …}``.
    """
    functions = [_function(s) for s in schemas]
    names = [_name_words(str(f.get("name", ""))) for f in functions]
    values: list[str] = []
    parameters: list[str] = []
    for f in functions:
        if isinstance(f.get("description"), str):
            values += _literals(f["description"])
        params = f.get("parameters")
        values += _schema_values(params)
        if isinstance(params, Mapping) and isinstance(params.get("properties"), Mapping):
            parameters += [_name_words(p) for p in params["properties"] if p.lower() not in _STOP]
    return _unique([*names, *values, *parameters])


def recent_words(texts: Sequence[str], limit: int = 20) -> list[str]:
    """Content words of recent turns, the latest turn's first, at most ``limit``.

    Args:
        texts: the turns' texts, oldest first.
        limit: how many words to keep.
    """
    words = (
        w.strip("'’-")
        for text in reversed(texts)
        for w in _WORD.findall(text)
        if w.lower() not in _STOP and (len(w) > 2 or w.isdigit())
    )
    return _unique(words)[:limit]


def _copied_text(value: str, description: str) -> bool:
    """Whether ``value`` is ``description``, or a run of three or more of its words that is at
    least half of it: the 0.5B wrote "The artist or band" for "The artist or band to play."
    on a request it misheard (measured on the spoken home requests, espeak-ng's RP voice)."""
    got, text = _WORD.findall(value.lower()), _WORD.findall(description.lower())
    if not got:
        return False
    if got == text:
        return True
    n = len(got)
    return (
        n >= 3
        and 2 * n >= len(text)
        and any(text[i : i + n] == got for i in range(len(text) - n + 1))
    )


def description_copies(parameters: Mapping[str, Any], arguments: Mapping[str, Any]) -> list[str]:
    """:func:`description_copy_problems` as the model reads them."""
    return [str(p) for p in description_copy_problems(parameters, arguments)]


def description_copy_problems(
    parameters: Mapping[str, Any], arguments: Mapping[str, Any]
) -> list[ArgumentProblem]:
    """Problems for string arguments that are their parameter's own description.

    A small model with nothing to put in a required string sometimes writes the schema's
    description there (the 0.5B played "The artist or band to play."). Such a value passes
    JSON Schema but is never what the user meant, so validation reports it like any other bad
    argument and the call does not run.

    Args:
        parameters: the tool's parameters schema.
        arguments: the call's arguments.
    """
    properties = parameters.get("properties")
    if not isinstance(properties, Mapping):
        return []
    problems: list[ArgumentProblem] = []
    for key, value in arguments.items():
        spec = properties.get(key)
        if not isinstance(spec, Mapping):
            continue
        description = spec.get("description")
        if (
            isinstance(value, str)
            and isinstance(description, str)
            and _copied_text(value, description)
        ):
            problems.append(
                ArgumentProblem(
                    path=(key,),
                    expected="what the user said",
                    got=value,
                    message=f"{value!r} is the parameter's description, not a value; use what "
                    f"the user said, or ask for the {key.replace('_', ' ')}",
                )
            )
        elif isinstance(value, Mapping):
            problems += [
                dataclasses.replace(p, path=(key, *p.path))
                for p in description_copy_problems(spec, value)
            ]
    return problems


def unsaid_examples(
    parameters: Mapping[str, Any], arguments: Mapping[str, Any], said: str
) -> list[str]:
    """:func:`unsaid_example_problems` as the model reads them."""
    return [str(p) for p in unsaid_example_problems(parameters, arguments, said)]


def unsaid_example_problems(
    parameters: Mapping[str, Any], arguments: Mapping[str, Any], said: str
) -> list[ArgumentProblem]:
    """Problems for string arguments that are an example from their parameter's description
    (``e.g. "pasta"``) which the user did not say.

    The 0.5B fills an optional or unclear string with the description's example (a timer
    "for the eggs" labelled "pasta", every reminder "water the plants"). Whether that is a copy
    depends on what the user said, which the tool layer does not know: the caller passes it.

    Args:
        parameters: the tool's parameters schema.
        arguments: the call's arguments.
        said: what the user said in the turn (and before, if it may be referred to).
    """
    properties = parameters.get("properties")
    if not isinstance(properties, Mapping):
        return []
    plain = " ".join(_WORD.findall(_spaced(said.lower())))
    heard = f" {plain} {_in_digits(plain)} "
    problems: list[ArgumentProblem] = []
    for key, value in arguments.items():
        spec = properties.get(key)
        description = spec.get("description") if isinstance(spec, Mapping) else None
        if not isinstance(value, str) or not isinstance(description, str):
            continue
        words = " ".join(_WORD.findall(_spaced(value.lower())))
        examples = {" ".join(_WORD.findall(_spaced(e.lower()))) for e in _literals(description)}
        if words and words in examples and f" {words} " not in heard:
            problems.append(
                ArgumentProblem(
                    path=(key,),
                    expected="what the user said",
                    got=value,
                    message=f"{value!r} is the description's example, which the user did not "
                    "say; use what the user said",
                )
            )
    return problems


_UNITS = {
    w: i
    for i, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
        ]
    )
}
_TENS = {
    w: 10 * i
    for i, w in enumerate(
        ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
    )
    if w != "_"
}
_AMOUNTS = {"a": 1, "an": 1, "dozen": 12, "hundred": 100}
_FRACTIONS = {"half": (0.5, 50), "quarter": (0.25, 25)}  # of a whole, and in percent


def _spaced(text: str) -> str:
    """``text`` with the ways of writing a time made one: "6pm", "6 p.m." and "6 pm" are all
    "6 pm" (Whisper writes any of them for the same words; the description says "6 pm")."""
    text = re.sub(r"\b([ap])\.\s?m\b\.?", r"\1m", text)
    return re.sub(r"(\d)(?=[a-z])", r"\1 ", text)


def _in_digits(words: str) -> str:
    """``words`` with numbers said in words written in digits ("six pm" is "6 pm", "twenty
    one" is "21"), so that a value the model wrote in digits is found in what was said: the
    1.5B's reminder "at six pm" with the time "6 pm" was taken for the description's example
    "6 pm" copied."""
    out: list[str] = []
    for word in words.split():
        value = _UNITS.get(word, _TENS.get(word))
        if value is None:
            out.append(word)
        elif out and word in _UNITS and out[-1].isdigit() and int(out[-1]) in _TENS.values():
            out[-1] = str(int(out[-1]) + value)
        else:
            out.append(str(value))
    return " ".join(out)


def spoken_numbers(said: str) -> set[float]:
    """Every number ``said`` mentions, in digits or in words ("twenty three" gives 23, and 20
    and 3 as well, since a recognizer may split them)."""
    numbers = {float(n) for n in re.findall(r"\d+(?:\.\d+)?", said)}
    words = _WORD.findall(said.lower().replace("-", " "))
    for i, word in enumerate(words):
        numbers.update(float(f) for f in _FRACTIONS.get(word, ()))
        value = _UNITS.get(word, _TENS.get(word, _AMOUNTS.get(word)))
        if value is None:
            continue
        numbers.add(float(value))
        after = words[i + 1] if i + 1 < len(words) else ""
        if word in _TENS and after in _UNITS:
            numbers.add(float(value + _UNITS[after]))
        if after == "hundred":
            numbers.add(float(value * 100))
    return numbers


def unsaid_numbers(
    parameters: Mapping[str, Any], arguments: Mapping[str, Any], said: str
) -> list[str]:
    """The optional numeric arguments whose value the user never said.

    The 0.5B fills an optional number it was not given with a value of its own ("Lights on in
    the bathroom" at brightness 50, where the tool's default is 100): a wrong value that
    validates. Left out, the tool's default applies, which is what the user asked for. Words
    that imply a number without saying it ("all the way up") read as unsaid, so such a value
    falls back to the default too: right when the default is the full value, as it usually is.
    """
    properties = parameters.get("properties")
    if not isinstance(properties, Mapping):
        return []
    required = set(parameters.get("required", ()))
    heard = spoken_numbers(said)
    return [
        key
        for key, value in arguments.items()
        if key not in required
        and isinstance(value, int | float)
        and not isinstance(value, bool)
        and float(value) not in heard
    ]
