"""settings.py: one table of every environment variable, and the readers built on it."""

from __future__ import annotations

import re
from pathlib import Path

from gto_dulwich import cache, settings

PACKAGE = Path(__file__).resolve().parent.parent / "gto_dulwich"


def test_every_variable_the_package_names_is_in_the_one_table() -> None:
    named = {
        name
        for source in PACKAGE.rglob("*.py")
        for name in re.findall(r"\bGTO_DULWICH_[A-Z_]+\b", source.read_text(encoding="utf-8"))
    }
    assert named - set(settings.VARIABLES) == set()


def test_emojis_are_on_unless_turned_off() -> None:
    assert settings.emojis({})
    assert settings.emojis({"GTO_EMOJIS": "yes please"})
    for off in ("0", "false", "No", " off ", "f", "n"):
        assert not settings.emojis({"GTO_EMOJIS": off})


def test_no_cache_is_scoped_to_the_block_it_was_turned_off_in() -> None:
    assert not settings.caches_off({})
    assert settings.caches_off({"GTO_DULWICH_NO_CACHE": "1"})
    assert not settings.caches_off({"GTO_DULWICH_NO_CACHE": "off"})
    with settings.no_caches():
        assert cache.disabled_by_env({})
        with settings.no_caches(False):  # an inner "keep caches" cannot undo the outer switch
            assert settings.caches_off({})
    assert not settings.caches_off({})
