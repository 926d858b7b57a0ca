"""The BFCL AST checker, with the official semantics (REFERENCE.md §5).

Every rule here mirrors ``bfcl_eval/eval_checker/ast_eval/ast_checker.py`` of
``bfcl-eval==2026.3.23``, including its quirks, because a score is only useful if it equals the
official one: the greedy matching of parallel calls, the type of the first possible answer
overriding the schema's ("variables"), nested types checked one level deep, ``""`` meaning
"may be omitted", and the order in which checks run (it decides which ``error_type`` is
reported). ``tests/evals/test_bfcl_checker.py`` compares verdicts with the official checker.

A decoded model output is a list of single-key dicts ``[{function_name: {param: value}}]``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Verdict", "check_ast", "standardize"]

_PYTHON_TYPES: dict[str, type] = {
    "string": str,
    "integer": int,
    "float": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "any": str,
}
_NESTED = ("array", "tuple")
_PUNCTUATION = re.compile(r"[ \,\.\/\-\_\*\^]")


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """Whether one entry is correct and, if not, the official error type and messages."""

    valid: bool
    """The official checker would count this entry as correct."""
    error_type: str | None = None
    """E.g. ``simple_function_checker:wrong_func_name``; None when valid."""
    errors: tuple[str, ...] = field(default=())
    """Human-readable reasons."""

    @classmethod
    def fail(cls, error_type: str, *errors: str) -> Verdict:
        """An invalid verdict."""
        return cls(valid=False, error_type=error_type, errors=errors)


VALID = Verdict(valid=True)


@dataclass(slots=True)
class _TypeCheck:
    valid: bool = True
    is_variable: bool = False
    error_type: str = "type_error:simple"
    errors: list[str] = field(default_factory=list)


def standardize(text: str) -> str:
    """Official string normalization: drop spaces and ``,./-_*^``, lowercase, ``'`` → ``"``."""
    return _PUNCTUATION.sub("", text).lower().replace("'", '"')


def _answer_type(answers: Sequence[Any]) -> type | None:
    for answer in answers:
        if answer != "":
            return type(answer)
    return None


def _type_check(
    param: str, value: Any, answers: Any, expected: type, nested: type | None
) -> _TypeCheck:
    result = _TypeCheck()
    answer_type = _answer_type(answers)
    is_variable = answer_type is not None and answer_type != expected
    elements: Any = value
    if type(value) is expected:
        if nested is None:
            result.is_variable = is_variable
            return result
        for item in answers:
            items_ok = True
            if type(item) is list:
                for element in elements:
                    if not _type_check(param, element, item, nested, None).valid:
                        items_ok = False
                        break
            if items_ok:
                return _TypeCheck(is_variable=is_variable)
        result.valid = False
        result.errors.append(
            f"Nested type checking failed for parameter {param!r}: expected items of type "
            f"{nested.__name__}. Parameter value: {value!r}."
        )
        result.error_type = "type_error:nested"
    if answer_type is not None and type(value) is answer_type:
        result.is_variable = True
        return result
    result.valid = False
    result.errors.append(
        f"Incorrect type for parameter {param!r}: expected {expected.__name__}, got "
        f"{type(value).__name__}. Parameter value: {value!r}."
    )
    result.error_type = "type_error:simple"
    return result


def _standardized(values: Any) -> list[Any]:
    return [standardize(v) if type(v) is str else v for v in values]


def _check_string(param: str, value: str, answers: Sequence[Any]) -> Verdict:
    allowed = [standardize(a) for a in answers if type(a) is str]
    if standardize(value) not in allowed:
        return Verdict.fail(
            "value_error:string",
            f"Invalid value for parameter {param!r}: {value!r}. Expected one of {answers}.",
        )
    return VALID


def _check_list(param: str, value: Sequence[Any], answers: Sequence[Any]) -> Verdict:
    allowed = [_standardized(a) for a in answers if isinstance(a, list | tuple | str)]
    if _standardized(value) not in allowed:
        return Verdict.fail(
            "value_error:list/tuple",
            f"Invalid value for parameter {param!r}: {value!r}. Expected one of {answers}.",
        )
    return VALID


def _check_dict(param: str, value: Any, answers: Sequence[Any]) -> Verdict:
    last = Verdict.fail("dict_checker:unclear")
    for answer in answers:
        if answer == "":
            continue
        if not isinstance(value, Mapping) or not isinstance(answer, Mapping):
            last = Verdict.fail("dict_checker:unclear", f"{param!r} is not a dictionary")
            continue
        errors: list[str] = []
        error_type = "dict_checker:unclear"
        ok = True
        for key, item in value.items():
            if key not in answer:
                errors.append(f"Unexpected dict key parameter: {key!r}.")
                error_type, ok = "value_error:dict_key", False
                break
            item_std = standardize(item) if type(item) is str else item
            if item_std not in _standardized(answer[key]):
                errors.append(f"Invalid value for parameter {key!r}: {item!r}.")
                error_type, ok = "value_error:dict_value", False
                break
        for key, alternatives in answer.items():
            if key not in value and "" not in alternatives:
                errors.append(f"Missing dict key parameter: {key!r}.")
                error_type, ok = "value_error:dict_key", False
                break
        if ok:
            return VALID
        last = Verdict(valid=False, error_type=error_type, errors=tuple(errors))
    return last


def _check_list_of_dicts(param: str, value: Sequence[Any], answers: Sequence[Any]) -> Verdict:
    last = Verdict.fail("list_dict_checker:unclear")
    for answer in answers:
        if not isinstance(answer, Sequence) or len(value) != len(answer):
            last = Verdict.fail(
                "value_error:list_dict_count", "Wrong number of dictionaries in the list."
            )
            continue
        ok = True
        for index, item in enumerate(value):
            last = _check_dict(param, item, [answer[index]])
            if not last.valid:
                ok = False
                break
        if ok:
            return VALID
    return last


def _check_call(
    doc: Mapping[str, Any],
    output: Mapping[str, Any],
    expected: Mapping[str, Any],
    underscore_to_dot: bool,
) -> Verdict:
    """One decoded call against one function doc and its possible answers."""
    answers: Mapping[str, Sequence[Any]] = next(iter(expected.values()))
    name = str(doc["name"])
    schema = doc.get("parameters", {})
    properties: Mapping[str, Any] = schema.get("properties", {})
    if underscore_to_dot and "." in name:
        name = name.replace(".", "_")
    if name not in output:
        return Verdict.fail(
            "simple_function_checker:wrong_func_name",
            f"Function name {name!r} not found in model output.",
        )
    params: Mapping[Any, Any] = output[name]
    for required in schema.get("required", []):
        if required not in params:
            return Verdict.fail(
                "simple_function_checker:missing_required",
                f"Missing required parameter: {required!r}.",
            )
    for param, raw in params.items():
        if param not in properties or param not in answers:
            return Verdict.fail(
                "simple_function_checker:unexpected_param", f"Unexpected parameter: {param!r}."
            )
        type_name = properties[param].get("type")
        if type_name not in _PYTHON_TYPES:
            return Verdict.fail(
                "checker_error:unknown_schema_type",
                f"Parameter {param!r} has type {type_name!r}, unknown to BFCL.",
            )
        expected_type = _PYTHON_TYPES[type_name]
        nested = None
        if type_name in _NESTED:
            nested = _PYTHON_TYPES.get(properties[param].get("items", {}).get("type"))
            if nested is None:
                return Verdict.fail(
                    "checker_error:unknown_schema_type",
                    f"Parameter {param!r} has no known item type.",
                )
        value = raw
        if type_name == "tuple" and type(value) is tuple:
            value = list(value)
        if type_name == "float" and type(value) is int:
            value = float(value)
        checked = _type_check(param, value, answers[param], expected_type, nested)
        if not checked.valid:
            return Verdict(valid=False, error_type=checked.error_type, errors=tuple(checked.errors))
        if not checked.is_variable:
            verdict = None
            if expected_type is dict:
                verdict = _check_dict(param, value, answers[param])
            elif expected_type is list and nested is dict:
                verdict = _check_list_of_dicts(param, value, answers[param])
            elif expected_type is str:
                verdict = _check_string(param, value, answers[param])
            elif expected_type is list:
                verdict = _check_list(param, value, answers[param])
            if verdict is not None:
                if not verdict.valid:
                    return verdict
                continue
        if value not in answers[param]:
            return Verdict.fail(
                "value_error:others",
                f"Invalid value for parameter {param!r}: {value!r}. "
                f"Expected one of {answers[param]}.",
            )
    for param, alternatives in answers.items():
        if param not in params and "" not in alternatives:
            return Verdict.fail(
                "simple_function_checker:missing_optional",
                f"Optional parameter {param!r} not provided and not marked as optional.",
            )
    return VALID


def _find_doc(docs: Sequence[Mapping[str, Any]], name: str) -> Mapping[str, Any] | None:
    return next((d for d in docs if d.get("name") == name), None)


def check_ast(
    docs: Sequence[Mapping[str, Any]],
    decoded: Sequence[Mapping[str, Any]],
    answer: Sequence[Mapping[str, Any]],
    category: str,
    *,
    underscore_to_dot: bool = False,
) -> Verdict:
    """Check a decoded model output against an entry's possible answer.

    Args:
        docs: the entry's function docs, as in the BFCL data (BFCL type names).
        decoded: the model's calls, ``[{name: {param: value}}]``.
        answer: the entry's ``ground_truth``.
        category: routes like the official checker: a name containing ``parallel`` is checked
            order-free, else one containing ``multiple`` against the expected function, else as
            exactly one call.
        underscore_to_dot: the model was given names with ``.`` replaced by ``_`` (as OpenAI-
            style APIs require); expected names are converted the same way.
    """
    if "parallel" in category:
        if len(decoded) != len(answer):
            return Verdict.fail(
                "parallel_function_checker_no_order:wrong_count", "Wrong number of functions."
            )
        matched: set[int] = set()
        for i, expected in enumerate(answer):
            doc = _find_doc(docs, next(iter(expected)))
            if doc is None:
                return Verdict.fail(
                    "checker_error:no_function_doc", f"No function doc for expected call {i}."
                )
            errors: list[str] = []
            found = False
            for index, output in enumerate(decoded):
                if index in matched:
                    continue
                verdict = _check_call(doc, output, expected, underscore_to_dot)
                if verdict.valid:
                    matched.add(index)
                    found = True
                    break
                errors.append(f"output {index}: {verdict.error_type}: {' '.join(verdict.errors)}")
            if not found:
                return Verdict.fail(
                    "parallel_function_checker_no_order:cannot_find_match",
                    f"Could not find a matching function among the model output for index {i} "
                    "of possible answers.",
                    *errors,
                )
        return VALID
    if "multiple" in category:
        if len(decoded) != len(answer):
            return Verdict.fail(
                "multiple_function_checker:wrong_count", "Wrong number of functions."
            )
        doc = _find_doc(docs, next(iter(answer[0])))
        if doc is None:
            return Verdict.fail("checker_error:no_function_doc", "No doc for the expected call.")
        return _check_call(doc, decoded[0], answer[0], underscore_to_dot)
    if len(decoded) != 1:
        return Verdict.fail("simple_function_checker:wrong_count", "Wrong number of functions.")
    return _check_call(docs[0], decoded[0], answer[0], underscore_to_dot)
