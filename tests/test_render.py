"""Tables as GTO prints them, and repository text that cannot take over a terminal."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from gto_dulwich import render
from gto_dulwich.render import json_list_chunks, to_json


def test_plain_and_box_tables_follow_tabulates_layout() -> None:
    headers = ["name", "latest"]
    rows: list[list[str | None]] = [["a", "v1.0.0"], ["long-name", None]]
    assert render.plain_table(headers, rows) == (
        "name       latest\na          v1.0.0\nlong-name  -"
    )
    assert render.box_table(headers, rows).splitlines() == [
        "╒═══════════╤══════════╕",
        "│ name      │ latest   │",
        "╞═══════════╪══════════╡",
        "│ a         │ v1.0.0   │",
        "│ long-name │ -        │",
        "╘═══════════╧══════════╛",
    ]


def test_numeric_columns_are_right_aligned_like_tabulate() -> None:
    assert render.plain_table(["ref"], [["2620402"], ["1234567"]]).splitlines() == [
        "    ref",
        "2620402",
        "1234567",
    ]


def test_control_characters_are_escaped() -> None:
    assert render.safe("ok\x1b[31mred\x07\n") == "ok\\x1b[31mred\\x07\\n"
    assert "\x1b" not in render.plain_table(["m"], [["\x1b]0;title\x07"]])


def test_rich_table_escapes_markup_and_control_characters() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system=None, width=80)
    console.print(render.rich_table(["message"], [["[bold red]boo\x1b[2J"]]))
    text = out.getvalue()
    assert "[bold red]boo\\x1b[2J" in text
    assert "\x1b[2J" not in text


def test_only_commit_named_versions_are_cut() -> None:
    assert render.cut_hexsha("a" * 40) == "aaaaaaa"
    assert render.cut_hexsha("v0.0.1500") == "v0.0.1500"


def test_safe_escapes_every_invisible_format_character_this_python_knows() -> None:
    """Issue #11 class 8: bidi overrides/isolates, zero-width characters and every other
    Unicode format character (category Cf), surrogates and line separators are escaped."""
    import unicodedata

    from gto_dulwich.render import safe

    for code in range(0x110000):
        char = chr(code)
        category = unicodedata.category(char)
        if category in ("Cf", "Cs", "Zl", "Zp") or (category == "Cc" and char != "\n"):
            assert char not in safe(f"a{char}b"), hex(code)
    assert safe("a\u202eb\u2066c\u200b\ufeff") == "a\\u202eb\\u2066c\\u200b\\ufeff"
    assert safe("\U000e0041") == "\\U000e0041"
    assert safe("café 模型 🙂") == "café 模型 🙂"


@pytest.mark.parametrize("count", [0, 1, 2, 511, 512, 513, 1500])
def test_json_list_chunks_is_to_json_in_pieces(count: int) -> None:
    """``history --json`` is streamed: the pieces join to exactly what to_json prints."""
    rows: list[dict[str, Any]] = [
        {
            "timestamp": f"2024-01-0{n % 9 + 1}T10:00:00+02:00",
            "artifact": f"dir/model-{n}",
            "event": "assignment",
            "priority": n,
            "version": None if n % 3 else f"v1.{n}.0",
            "stage": "prod",
            "message": 'quotes " \\ tab\t nl\n ctl\x01 ümlaut ☃ \U0001f600 bidi \u202e',
            "active": n % 2 == 0,
        }
        for n in range(count)
    ]
    assert "".join(json_list_chunks(rows)) == to_json(rows)


def test_json_list_chunks_falls_back_for_nested_values() -> None:
    rows: list[dict[str, Any]] = [
        {"a": 1.5, "b": [1, {"c": None}], "d": {}},
        {},
        {"x": {"y": []}},
    ]
    assert "".join(json_list_chunks(rows, batch=2)) == to_json(rows)
