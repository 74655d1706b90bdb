"""Other spellings of a restricted name the PII gate must recognise.

- honorific forms: surname + 女士/先生/小姐/老师/某/某某 (`王女士`, `王某`);
- romanised forms (pinyin): a pluggable step. `romanisers()` returns the registered
  romanisers; pypinyin is used when it is installed (without it no romanised form is
  matched, so deployments must install it), and tests or deployments may register their own with
  `register_romaniser`. A romaniser maps a Chinese name to one syllable per character,
  or None when it cannot.

Romanised names are matched on words of the value (`Zhang San`, `zhang-san`, `ZhangSan`,
`San Zhang`, `ZHANG SAN`): one to three consecutive ASCII words joined, lower case.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import cache

Romaniser = Callable[[str], list[str] | None]

HONORIFICS = ("女士", "先生", "小姐", "老师", "某某", "某")
COMPOUND_SURNAMES = (
    "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒", "夏侯",
    "轩辕", "令狐", "端木", "西门", "南宫", "独孤", "百里",
)  # fmt: skip
MIN_ROMANISED = 5  # shorter joined forms (li na -> lina) collide with ordinary words
_WORD = re.compile(r"[a-z]+")
_registered: list[Romaniser] = []


def surname(name: str) -> str:
    return name[:2] if name[:2] in COMPOUND_SURNAMES and len(name) > 2 else name[:1]


def honorific_forms(name: str) -> set[str]:
    family = surname(name)
    return {family + h for h in HONORIFICS}


def _pypinyin(name: str) -> list[str] | None:
    try:
        from pypinyin import Style, lazy_pinyin
    except ImportError:
        return None
    return lazy_pinyin(name, style=Style.NORMAL, errors="ignore") or None


def register_romaniser(fn: Romaniser) -> None:
    if fn not in _registered:
        _registered.append(fn)


def unregister_romaniser(fn: Romaniser) -> None:
    if fn in _registered:
        _registered.remove(fn)


def romanisers() -> list[Romaniser]:
    return [_pypinyin, *_registered]


def romanised_forms(name: str, fns: Iterable[Romaniser] | None = None) -> set[str]:
    """Joined lower-case pinyin of the name, surname first and given name first."""
    out: set[str] = set()
    for fn in romanisers() if fns is None else fns:
        syllables = fn(name)
        if not syllables or len(syllables) != len(name):
            continue
        syllables = [s.lower() for s in syllables]
        n_family = len(surname(name))
        family, given = "".join(syllables[:n_family]), "".join(syllables[n_family:])
        out.update(f for f in (family + given, given + family) if len(f) >= MIN_ROMANISED)
    return out


def romanised_hit(text: str, forms: set[str]) -> bool:
    """True when one to three consecutive words of `text` spell one of `forms`."""
    if not forms or not text:
        return False
    words = _WORD.findall(text.lower())
    return any("".join(words[i : i + n]) in forms for n in (1, 2, 3) for i in range(len(words) - n + 1))


@cache
def documented_words() -> frozenset[str]:
    """Lower-case words of the project's reviewed documentation: dbt model YAML and docs blocks
    (copied into the published comments) and docs/. A joined pinyin form equal to one of them
    (binding, changing, ...) is an English word there, and is not matched as a name."""
    from patient360.paths import DBT_PROJECT_DIR, PROJECT_ROOT

    files = [*(DBT_PROJECT_DIR / "models").rglob("*.yml"), *(DBT_PROJECT_DIR / "models").rglob("*.md")]
    files += list((PROJECT_ROOT / "docs").glob("*.md"))
    words: set[str] = set()
    for path in files:
        words.update(_WORD.findall(path.read_text(encoding="utf-8").lower()))
    return frozenset(words)
