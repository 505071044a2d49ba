"""Every text the pages show has its Simplified Chinese translation (gettext catalogs of
the layout kit and of each service's pages)."""

from __future__ import annotations

import importlib

import pytest

from counterflow_shared.web.pages import KIT_DIR, KIT_TEXTS
from counterflow_shared.web.pages.i18n import load_translations
from counterflow_shared.web.pages.texts import msgids, untranslated


def test_the_kit_texts_are_translated() -> None:
    assert untranslated(KIT_DIR, KIT_TEXTS) == []


@pytest.mark.parametrize("module", ["counterflow_ticketing.api.pages", "counterflow_selfservice.api.pages"])
def test_every_page_text_of_the_service_is_translated(module: str) -> None:
    kit = importlib.import_module(module).kit
    texts = msgids(kit.pages_dir, kit.texts)
    assert "Lobby console" in texts or "Device fleet" in texts  # the extraction sees the templates
    assert untranslated(kit.pages_dir, kit.texts, also_in=(KIT_DIR,)) == []
    zh = load_translations([KIT_DIR / "locales", kit.pages_dir / "locales"])["zh_CN"]
    assert all(zh.gettext(m) != m for m in texts if m.isascii() and any(c.isalpha() for c in m))
