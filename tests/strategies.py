"""Hypothesis strategies shared by the tests."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st


def json_values(*, finite: bool, size: int) -> st.SearchStrategy[Any]:
    """Arbitrary JSON-like values; ``finite=False`` lets NaN and infinities in."""
    return st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.text(max_size=2 * size)
        | st.floats(allow_nan=not finite, allow_infinity=not finite),
        lambda children: (
            st.lists(children, max_size=size)
            | st.dictionaries(st.text(max_size=size + 2), children, max_size=size)
        ),
        max_leaves=3 * size + 3,
    )
