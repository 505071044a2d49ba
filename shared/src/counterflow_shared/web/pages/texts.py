"""The page texts to translate: every ``_("...")`` in a pages folder's templates (Babel's
Jinja2 extractor) plus the texts a kit declares (scripts' strings, role and status
names, service type names). ``python -m counterflow_shared.web.pages.texts update <module with a kit> ...``
adds missing msgids to each ``zh_CN`` catalog (empty ``msgstr`` to fill in);
``check`` lists untranslated ones (a test runs the same check)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po


def template_msgids(pages_dir: Path) -> list[str]:
    """Literal msgids of ``_()`` calls in ``pages_dir/templates/*.html``, first-seen order."""
    out: list[str] = []
    for _fn, _line, msg, _comments, _ctx in extract_from_dir(str(pages_dir), method_map=[("templates/**.html", "jinja2")]):
        if isinstance(msg, str) and msg not in out:
            out.append(msg)
    return out


def msgids(pages_dir: Path, extra: Iterable[str]) -> list[str]:
    """Template msgids plus ``extra``, without duplicates."""
    out = template_msgids(pages_dir)
    out += [m for m in dict.fromkeys(extra) if m not in out]
    return out


def untranslated(pages_dir: Path, extra: Iterable[str], lang: str = "zh_CN", also_in: Iterable[Path] = ()) -> list[str]:
    """msgids of ``pages_dir`` with no ``lang`` translation in its catalog or in the
    catalogs of ``also_in`` (the kit's, which services inherit)."""
    known: dict[str, str] = {}
    for d in (*also_in, pages_dir):
        po = Path(d) / "locales" / lang / "LC_MESSAGES" / "messages.po"
        if po.exists():
            with po.open("rb") as f:
                known.update({str(m.id): str(m.string) for m in read_po(f) if m.id and m.string})  # singular messages only
    return [m for m in msgids(pages_dir, extra) if not known.get(m)]


def update(pages_dir: Path, extra: Iterable[str], lang: str = "zh_CN") -> int:
    """Add missing msgids to ``pages_dir``'s ``lang`` catalog; returns how many were added."""
    po = pages_dir / "locales" / lang / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True, exist_ok=True)
    if po.exists():
        with po.open("rb") as f:
            catalog = read_po(f, locale=lang)
    else:
        catalog = Catalog(locale=lang, project="Counterflow pages")
    added = 0
    for m in msgids(pages_dir, extra):
        if m not in catalog:
            catalog.add(m, "")
            added += 1
    with po.open("wb") as f:
        write_po(f, catalog, width=0, omit_header=False, sort_output=False)
    return added


def _kits(modules: Iterable[str]) -> list[tuple[str, Path, tuple[str, ...], tuple[Path, ...]]]:
    from counterflow_shared.web.pages import KIT_DIR, KIT_TEXTS

    kits: list[tuple[str, Path, tuple[str, ...], tuple[Path, ...]]] = [("kit", KIT_DIR, KIT_TEXTS, ())]
    for module in modules:
        kit = __import__(module, fromlist=["kit"]).kit
        kits.append((module, kit.pages_dir, tuple(kit.texts), (KIT_DIR,)))
    return kits


def main(argv: list[str]) -> int:
    """``check`` (exit 1 when something is untranslated) or ``update``, for the kit and
    the modules named after the command (each defines a :class:`PageKit` ``kit``)."""
    command = argv[1] if len(argv) > 1 else "check"
    missing = 0
    for name, pages_dir, extra, also in _kits(argv[2:]):
        if command == "update":
            print(f"{name}: {update(pages_dir, extra)} msgids added")
        else:
            todo = untranslated(pages_dir, extra, also_in=also)
            missing += len(todo)
            for m in todo:
                print(f"{name}: untranslated {m!r}")
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
