"""handout/markers.py: the skeleton is the reference less its marked solution blocks,
and every malformed marker is refused with the line that is wrong."""

from __future__ import annotations

import pytest

from handout.markers import MarkerError, split

REFERENCE = '''\
def f() -> int:
    """Shared docstring."""
    # BEGIN SOLUTION
    return 42
    # SKELETON
    # # Your code here.
    #
    # return 0
    # END SOLUTION


# BEGIN SOLUTION
def helper() -> None:
    pass
# END SOLUTION
'''


def test_solution_blocks_give_way_to_their_skeleton_text() -> None:
    result = split(REFERENCE)
    assert result.skeleton == (
        "def f() -> int:\n"
        '    """Shared docstring."""\n'
        "    # Your code here.\n"
        "\n"
        "    return 0\n"
    )
    assert result.solution_lines == [
        "    return 42\n",
        "def helper() -> None:\n",
        "    pass\n",
    ]


def test_the_reference_runs_as_is_and_its_skeleton_compiles() -> None:
    namespace: dict[str, object] = {}
    exec(compile(REFERENCE, "reference", "exec"), namespace)
    assert namespace["f"]() == 42  # type: ignore[operator]
    skeleton: dict[str, object] = {}
    exec(compile(split(REFERENCE).skeleton, "skeleton", "exec"), skeleton)
    assert skeleton["f"]() == 0  # type: ignore[operator]
    assert "helper" not in skeleton


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# BEGIN SOLUTION\nx = 1\n", r"x\.py:1: '# BEGIN SOLUTION' is never closed"),
        ("x = 1\n# END SOLUTION\n", r"x\.py:2: '# END SOLUTION' with no '# BEGIN SOLUTION'"),
        ("# SKELETON\n", r"x\.py:1: '# SKELETON' outside a solution block"),
        (
            "# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n",
            r"x\.py:2: .* inside the block opened at line 1; blocks do not nest",
        ),
        (
            "    # BEGIN SOLUTION\n    x = 1\n# END SOLUTION\n",
            r"x\.py:3: this marker is indented 0 spaces but .* line 1 is indented 4",
        ),
        (
            "# BEGIN SOLUTION\n# SKELETON\nx = 1\n# END SOLUTION\n",
            r"x\.py:3: in the SKELETON part .* every line is a comment",
        ),
        ("x = 1  # BEGIN SOLUTION\n", r"x\.py:1: a solution marker must stand alone"),
        ("#BEGIN SOLUTION\n", r"x\.py:1: a solution marker must stand alone"),
    ],
)
def test_a_malformed_marker_names_its_line(text: str, message: str) -> None:
    with pytest.raises(MarkerError, match=message):
        split(text, "x.py")
