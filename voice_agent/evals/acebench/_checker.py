"""The ACEBench checker, with the official semantics of ``model_eval/checker.py`` and
``eval_main.py`` (ACEBench commit 56dd66c), quirks included, so that scores compare.

Differences from BFCL worth knowing when reading a score: a ground-truth value is one value,
not a list of alternatives (a whole answer can have alternatives); strings match when the
normalized answer is a *substring* of the normalized output; numbers and booleans are only
type-checked, never compared; dict values match when ``str(answer)`` is a substring of
``str(value)``; ``"true"``/``"false"`` strings pass as booleans; parallel calls are matched by
name with ``_0``/``_1`` suffixes of the answer keys removed. Where the official code would crash
(a function doc without ``parameters``, an unknown type), we return an invalid verdict with
``error_type`` ``checker_error:…`` instead.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from voice_agent.evals.bfcl import Verdict
from voice_agent.evals.bfcl._checker import standardize

__all__ = ["check_normal", "check_special"]

_TYPES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "float": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "any": str,
    "list": list,
    "object": dict,
    "objectArray": list,
    "list(string)": list,
    "list(enum)": list,
    "int": int,
    "enum": enumerate,
    "number": int,
}
_NESTED = ("array", "tuple", "list(string)", "list(enum)", "object", "objectArray")
_SUFFIX = re.compile(r"_\d+$")
VALID = Verdict(valid=True)


class _Crash(Exception):
    """Where the official checker raises; we turn it into an invalid verdict."""


def _bool_text(value: Any) -> Any:
    if value == "true":
        return True
    if value == "false":
        return False
    return value


def _type_check(value: Any, answer: Any, expected: Any, nested: Any) -> tuple[bool, bool]:
    """(valid, is_variable), as the official ``type_checker`` decides them."""
    answer_type = type(answer) if answer != "" else None
    is_variable = answer_type is not None and answer_type != expected
    value = _bool_text(value)
    nested_failed = False
    if type(value) is expected:
        if nested is None:
            return True, is_variable
        try:
            items = iter(answer)
        except TypeError:
            raise _Crash("answer is not iterable for a nested type") from None
        for item in items:
            ok = True
            if type(item) is list:
                for element in value:
                    if not _type_check(element, item, nested, None)[0]:
                        ok = False
                        break
            if ok:
                return True, is_variable
        nested_failed = True
    if answer_type is not None and (type(value) is answer_type or answer == value):
        return not nested_failed, True
    return False, False


def _check_dict(value: Any, answer: Any) -> Verdict:
    if not isinstance(value, dict):
        return Verdict.fail("value_error", "expected a dictionary")
    if not isinstance(answer, dict):
        raise _Crash("dictionary answer expected")
    if len(value) != len(answer):
        return Verdict.fail("value_error", "wrong number of keys")
    result = VALID
    for key, item in value.items():
        item = _bool_text(item)
        if key not in answer:
            return Verdict.fail("value_error", f"unexpected key {key!r}")
        expected = answer[key]
        if isinstance(expected, dict):
            result = _check_dict(item, expected)
            if not result.valid:
                return result
            continue
        item_std = standardize(item) if type(item) is str else item
        expected_std = standardize(expected) if type(expected) is str else expected
        if str(expected_std) not in str(item_std):
            return Verdict.fail("value_error", f"wrong value for {key!r}: {item!r}")
    return result


def _check_list_of_dicts(value: Sequence[Any], answer: Any) -> Verdict:
    if not isinstance(answer, list | str):
        raise _Crash("list answer expected")
    if len(value) != len(answer):
        return Verdict.fail("value_error:list_dict_count", "wrong number of dictionaries")
    result = VALID
    for index, item in enumerate(value):
        result = _check_dict(item, answer[index])
        if not result.valid:
            return result
    return result


def _check_call(
    doc: Mapping[str, Any],
    output: Mapping[str, Any],
    expected: Mapping[str, Any],
    category: str,
) -> Verdict:
    answer = next(iter(expected.values()))
    if "parameters" not in doc:
        raise _Crash(f"function doc {doc.get('name')!r} has no 'parameters'")
    parameters = doc["parameters"]
    given = next(iter(output.values()))
    if given == {} and parameters == {}:
        return VALID
    if given == {} or parameters == {}:
        return Verdict.fail("wrong_param", "parameters missing")
    properties = parameters.get("properties")
    if answer == properties:
        return VALID
    if answer == {}:
        return Verdict.fail("wrong_param", "parameters missing")
    name = doc["name"]
    if name not in output:
        return Verdict.fail("wrong_function_name", f"expected {name!r}")
    params = output[name]
    if "required" not in parameters or not isinstance(properties, Mapping):
        raise _Crash(f"function doc {name!r} has no 'required' or 'properties'")
    for required in parameters["required"]:
        if required not in params:
            return Verdict.fail("lack_args", f"lack required_params: {required}")
    for param, raw in params.items():
        if param not in properties or param not in answer:
            return Verdict.fail("addition_args", f"addition params: {param}")
        type_name = properties[param].get("type")
        if type_name not in _TYPES:
            raise _Crash(f"unknown type {type_name!r}")
        expected_type = _TYPES[type_name]
        nested = None
        if type_name in _NESTED:
            items = properties[param].get("items")
            if isinstance(items, Mapping) and "type" in items:
                nested_name = items["type"]
            elif "string" in type_name:
                nested_name = "string"
            elif "enum" in type_name:
                nested_name = "enum"
            else:
                nested_name = "dict"
            if nested_name not in _TYPES:
                raise _Crash(f"unknown item type {nested_name!r}")
            nested = _TYPES[nested_name]
        value = raw
        if type_name == "tuple" and type(value) is tuple:
            value = list(value)
        if type_name == "float" and type(value) is int:
            value = float(value)
        valid, is_variable = _type_check(value, answer[param], expected_type, nested)
        if not valid:
            return Verdict.fail("type_error", f"wrong type for parameter ({param}) of {name}")
        if is_variable:
            continue
        if expected_type is dict:
            verdict = _check_dict(value, answer[param])
        elif expected_type is list and nested is dict:
            if type_name == "objectArray":
                raise _Crash("objectArray parameters crash the official checker")
            verdict = _check_list_of_dicts(value, answer[param])
        elif expected_type is str:
            if not isinstance(answer[param], str):
                raise _Crash("string answer expected")
            verdict = (
                VALID
                if standardize(answer[param]) in standardize(value)
                else Verdict.fail(
                    "value_error:string", f"wrong value for parameter ({param}) of {name}"
                )
            )
        elif expected_type is list:
            if not isinstance(answer[param], list):
                raise _Crash("list answer expected")
            same = [standardize(v) if type(v) is str else v for v in value] == [
                standardize(a) if type(a) is str else a for a in answer[param]
            ]
            verdict = (
                VALID
                if same
                else Verdict.fail(
                    "value_error:list/tuple", f"wrong value for parameter ({param}) of {name}"
                )
            )
        else:
            continue  # numbers and booleans: type-checked only
        if not verdict.valid:
            return verdict
    return VALID


def _find_doc(docs: Sequence[Mapping[str, Any]], name: str) -> Mapping[str, Any] | None:
    # Official quirk: the first doc whose name is a *substring* of the answer key.
    return next((d for d in docs if d.get("name", "\0") in name), None)


def _check_one_answer(
    docs: Sequence[Mapping[str, Any]],
    decoded: Sequence[Mapping[str, Any]],
    answer: Mapping[str, Any],
    category: str,
) -> Verdict:
    if len(decoded) != len(answer):
        return Verdict.fail(
            "wrong functions number", "The number of functions does not match the answer."
        )
    original_names = list(answer)
    expected = [{_SUFFIX.sub("", k): v} for k, v in answer.items()]
    produced = Counter(k for call in decoded for k in call)
    wanted = Counter(k for call in expected for k in call)
    if (
        set(produced) - set(wanted)
        or set(wanted) - set(produced)
        or any(wanted[n] != c for n, c in produced.items())
    ):
        return Verdict.fail("function_mismatch", "functions differ from the ground truth")
    result = VALID
    for index, expected_call in enumerate(expected):
        doc = _find_doc(docs, original_names[index])
        if doc is None:
            raise _Crash(f"no function doc for {original_names[index]!r}")
        found = False
        expected_name = next(iter(expected_call))
        for call in decoded:
            if next(iter(call)) == expected_name:
                result = _check_call(doc, call, expected_call, category)
                if result.valid:
                    found = True
                    break
            else:
                result = Verdict.fail("simple_function_checker:unclear", "wrong_function")
        if found:
            continue
        if not result.valid:
            return result
    return result


def check_normal(
    docs: Sequence[Mapping[str, Any]], decoded: Any, answer: Any, category: str
) -> Verdict:
    """Verdict for a decoded output on a normal category entry (all alternatives tried)."""
    if not isinstance(decoded, list) or not all(type(c) is dict for c in decoded):
        return Verdict.fail(
            "wrong_output_format", "The output format does not meet the specified requirements."
        )
    if any(len(c) == 0 for c in decoded):
        return Verdict.fail("checker_error:empty_call", "a call with no name")
    alternatives = answer if isinstance(answer, list) else [answer]
    first_failure: Verdict | None = None
    for alternative in alternatives:
        try:
            verdict = _check_one_answer(docs, decoded, alternative, category)
        except _Crash as e:
            verdict = Verdict.fail("checker_error:official_checker_crashes", str(e))
        except (TypeError, AttributeError, KeyError, IndexError) as e:
            verdict = Verdict.fail("checker_error:official_checker_crashes", repr(e))
        if verdict.valid:
            return verdict
        first_failure = first_failure or verdict
    return first_failure or Verdict.fail("checker_error:no_answer", "empty ground truth")


def check_special(category: str, output: Any, answer: Any) -> Verdict:
    """Verdict for the special categories, which check what the model *says*.

    ``incomplete``: the reply must contain "Missing necessary parameters", the function name
    and every missing parameter; ``error_param``: "There is incorrect value" and every wrong
    value; ``irrelevant``: "the limitations of the function".
    """
    verdict = VALID
    try:
        if "incomplete" in category:
            for name, values in answer.items():
                if "Missing necessary parameters" not in output:
                    verdict = Verdict.fail("error_detection", f"missing parameters of {name}")
                elif name not in output:
                    verdict = Verdict.fail("error_correction", f"did not name {name}")
                else:
                    for value in values:
                        if value not in output:
                            verdict = Verdict.fail("error_correction", f"did not name {value}")
        elif "error" in category:
            for name, values in answer.items():
                if "There is incorrect value" not in output:
                    verdict = Verdict.fail("error_detection", f"wrong value of {name}")
                else:
                    for value in values:
                        if value not in output:
                            verdict = Verdict.fail("error_correction", f"did not name {value}")
        elif "irrelevant" in category and "the limitations of the function" not in output:
            verdict = Verdict.fail("error_detection", "did not refuse")
    except TypeError as e:
        return Verdict.fail("checker_error:official_checker_crashes", repr(e))
    return verdict
