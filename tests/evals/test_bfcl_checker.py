"""Our BFCL AST checker against the official one, on real entries and thousands of variants."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest

from voice_agent.evals.bfcl import AST_CATEGORIES, check_ast, ground_truth_calls, load_category
from voice_agent.evals.bfcl._official import OfficialChecker


def gold(answer: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return copy.deepcopy(ground_truth_calls(answer))


def mutate_value(value: Any, rng: random.Random) -> Any:
    choices: list[Any] = []
    if isinstance(value, bool):
        choices = [not value, int(value), str(value)]
    elif isinstance(value, int):
        choices = [value + 1, float(value), str(value), -value, True]
    elif isinstance(value, float):
        choices = [value + 0.5, int(value), str(value), round(value)]
    elif isinstance(value, str):
        choices = [value.upper(), value + " x", value.replace(" ", ""), f" {value}.", "", 5]
    elif isinstance(value, list):
        choices = [
            value[::-1],
            value[:-1],
            (*value,),
            [*value, value[0]] if value else [1],
            [str(v) for v in value],
            {"k": value},
        ]
    elif isinstance(value, dict):
        key = next(iter(value), "k")
        choices = [
            {},
            {**value, "extra": 1},
            {k: v for k, v in value.items() if k != key},
            {key: "changed"},
            [value],
        ]
    else:
        choices = ["x", 0, None]
    return rng.choice(choices)


def variants(
    answer: list[dict[str, Any]], docs: list[dict[str, Any]], rng: random.Random
) -> list[Any]:
    base = gold(answer)
    out: list[Any] = [base, [], [{}], base + base[:1], base[::-1]]
    for _ in range(12):
        candidate = copy.deepcopy(base)
        call = rng.choice(candidate)
        name = next(iter(call))
        args = call[name]
        action = rng.randrange(7)
        if action == 0 and args:
            args.pop(rng.choice(list(args)))
        elif action == 1:
            args["unexpected_param"] = 1
        elif action == 2 and args:
            key = rng.choice(list(args))
            args[key] = mutate_value(args[key], rng)
        elif action == 3:
            call[name.replace(".", "_") + ("" if "." in name else "_x")] = call.pop(name)
        elif action == 4:
            doc = next((d for d in docs if d["name"] == name), None)
            if doc:
                for param in doc["parameters"].get("properties", {}):
                    if param not in args:
                        args[param] = "filled"
                        break
        elif action == 5:
            candidate.append(copy.deepcopy(call))
        else:
            other = rng.choice(docs)["name"]
            candidate[candidate.index(call)] = {other: args}
        out.append(candidate)
    return out


@pytest.mark.parametrize("category", AST_CATEGORIES)
def test_verdicts_match_the_official_checker(
    category: str, bfcl_dir: Path, official_checker: OfficialChecker
) -> None:
    rng = random.Random(f"bfcl-{category}")
    compared = disagreements = 0
    examples = []
    for entry in load_category(category, bfcl_dir):
        assert entry.answer is not None
        for decoded in variants(entry.answer, entry.functions, rng):
            for underscore in (False, True):
                try:
                    theirs = official_checker(
                        copy.deepcopy(entry.functions),
                        copy.deepcopy(decoded),
                        entry.answer,
                        category,
                        underscore,
                    )
                except Exception:  # the official checker crashes on some malformed outputs
                    continue
                ours = check_ast(
                    entry.functions, decoded, entry.answer, category, underscore_to_dot=underscore
                )
                compared += 1
                theirs_type = None if theirs["valid"] else theirs["error_type"]
                if (ours.valid, ours.error_type) != (theirs["valid"], theirs_type):
                    disagreements += 1
                    if len(examples) < 5:
                        examples.append(
                            (
                                entry.id,
                                json.dumps(decoded, default=str)[:300],
                                ours.error_type,
                                theirs_type,
                            )
                        )
    assert compared > 200
    assert disagreements == 0, examples


def test_gold_answers_are_valid_and_known_quirks(bfcl_dir: Path) -> None:
    entries = {e.id: e for e in load_category("parallel", bfcl_dir)}
    for entry in entries.values():
        assert entry.answer is not None
        assert check_ast(entry.functions, gold(entry.answer), entry.answer, "parallel").valid
    simple = load_category("simple_python", bfcl_dir)[0]
    assert simple.answer is not None
    decoded = gold(simple.answer)
    name = next(iter(decoded[0]))
    decoded[0][name]["base"] = 10.0  # int expected: a float is a type error, no coercion
    verdict = check_ast(simple.functions, decoded, simple.answer, "simple_python")
    assert verdict.error_type == "type_error:simple"


def test_greedy_parallel_matching_quirk(official_checker: OfficialChecker) -> None:
    """Expected calls take the first output that fits, in order: a valid one-to-one matching
    can exist and still be missed. The official checker does this; so must we."""
    docs = [
        {
            "name": "f",
            "parameters": {
                "type": "dict",
                "required": ["x"],
                "properties": {"x": {"type": "integer"}},
            },
        }
    ]
    answer = [{"f": {"x": [1, 2]}}, {"f": {"x": [1]}}]
    outputs = [{"f": {"x": 1}}, {"f": {"x": 2}}]
    ours = check_ast(docs, outputs, answer, "parallel")
    theirs = official_checker(docs, outputs, answer, "parallel", False)
    assert not ours.valid and not theirs["valid"]
    assert (
        ours.error_type
        == theirs["error_type"]
        == ("parallel_function_checker_no_order:cannot_find_match")
    )
    assert check_ast(docs, outputs[::-1], answer, "parallel").valid
