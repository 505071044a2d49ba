"""Page texts in English and Simplified Chinese: gettext catalogs (``.po``) read with
Babel at start-up, merged from the layout kit and the service.

English is the source language (msgids are English, no catalog needed); ``zh_CN`` comes
from ``locales/zh_CN/LC_MESSAGES/messages.po`` beside the kit and beside each service's
pages. A language is chosen per user (the ``cf_lang`` cookie, set by the switcher in the
page header or at sign-in), else the branch's language, else the browser's
``Accept-Language``, else English.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

#: languages the pages are written in: code -> name shown in the switcher (in itself)
LANGUAGES = {"en": "English", "zh_CN": "简体中文"}
DEFAULT_LANGUAGE = "en"


def load_translations(dirs: Iterable[Path]) -> dict[str, NullTranslations]:
    """Catalogs per language from ``<dir>/<lang>/LC_MESSAGES/messages.po`` of every dir
    (later dirs add to and override earlier ones). English is the identity."""
    out: dict[str, NullTranslations] = {"en": NullTranslations()}
    for lang in LANGUAGES:
        if lang == "en":
            continue
        merged: Translations | None = None
        for d in dirs:
            po = Path(d) / lang / "LC_MESSAGES" / "messages.po"
            if not po.exists():
                continue
            with po.open("rb") as f:
                catalog = read_po(f, locale=lang)
            buf = io.BytesIO()
            write_mo(buf, catalog)
            buf.seek(0)
            t = Translations(buf)
            merged = t if merged is None else merged.merge(t)
        out[lang] = merged or NullTranslations()
    return out


def normalise(code: str | None) -> str | None:
    """``zh-CN`` / ``zh_cn`` / ``zh-Hans`` / ``zh`` -> ``zh_CN``; ``en-GB`` -> ``en``; unknown -> ``None``."""
    if not code:
        return None
    c = code.strip().replace("-", "_").lower()
    if c.startswith("zh"):
        return "zh_CN"
    if c.startswith("en"):
        return "en"
    return None


def from_accept_language(header: str | None) -> str | None:
    """The first supported language of an ``Accept-Language`` header (RFC 9110 §12.5.4),
    by descending ``q``; ``None`` when none is supported."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((-q, i, tag))
    for _q, _i, tag in sorted(ranked):
        if (lang := normalise(tag)) is not None:
            return lang
    return None
