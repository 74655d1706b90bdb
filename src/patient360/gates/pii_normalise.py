"""Undo the usual ways of disguising an identifier before the detectors look at a value.

`normalise(text)` is what every PII detector reads (Python, and in DuckDB through the
`p360_normalise` UDF the gate registers):

1. escapes decoded: JSON/Python `\\uXXXX`, HTML `&#NNNN;` / `&#xHHHH;`, URL `%E5%BC%A0`;
2. Unicode NFKC: full-width digits, letters and `＠` become ASCII, compatibility forms fold;
3. invisible characters removed: zero-width spaces and joiners, BOM, soft hyphen, word
   joiner and every other format character (Unicode category Cf);
4. traditional characters common in names mapped to simplified (a small table, not a
   converter: enough that one traditional character does not hide a name);
5. whitespace between two CJK characters removed (`张 三` is `张三`);
6. base64 tokens that decode to readable UTF-8 text are appended (so both are scanned).

`compact_digits(text)` also removes separators between digits (spaces, dots, dashes,
brackets, slashes, underscores, middle dots) so `138 1234 5678` or ID numbers in groups of
four are one run of digits. `decode_blob` turns BLOB bytes into text (UTF-8, UTF-16 with or
without BOM, GB18030).
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import unicodedata
from urllib.parse import unquote

# Traditional -> simplified for characters frequent in Chinese names (surnames first).
_TRADITIONAL = (
    "張陳劉黃趙吳鄭楊孫馬許羅謝韓馮鄧蕭葉蔣賈閻餘盧鍾陸範錢湯喬賀賴龔顧萬譚廖鄒龐嚴莊聶賽"
    "偉靜麗強軍艷傑濤蘭剛華紅飛鵬輝雲鳳龍東國興寧慶貴穎瑩鳴銘嬌蓮潔寶賢義愛發時長鋒誠豔"
    "麗娟婦書學檢醫師"
)
_SIMPLIFIED = (
    "张陈刘黄赵吴郑杨孙马许罗谢韩冯邓萧叶蒋贾阎余卢钟陆范钱汤乔贺赖龚顾万谭廖邹庞严庄聂赛"
    "伟静丽强军艳杰涛兰刚华红飞鹏辉云凤龙东国兴宁庆贵颖莹鸣铭娇莲洁宝贤义爱发时长锋诚艳"
    "丽娟妇书学检医师"
)
TRADITIONAL_TO_SIMPLIFIED = str.maketrans(_TRADITIONAL, _SIMPLIFIED)
assert len(_TRADITIONAL) == len(_SIMPLIFIED)

_CJK = "\u3400-\u9fff\uf900-\ufaff"
_JSON_ESCAPE = re.compile(r"\\+u([0-9a-fA-F]{4})")
_PERCENT = re.compile(r"(?:%[0-9A-Fa-f]{2}){2,}")
_HAN_GAP = re.compile(rf"(?<=[{_CJK}])\s+(?=[{_CJK}])")
# a separator between digits, or before a lone X that ends the run (a resident ID's check character)
_DIGIT_GAP = re.compile(r"(?<=[0-9])[\s.\-_/()\[\]·•:]+(?=[0-9]|[Xx](?![0-9A-Za-z]))")
_BASE64 = re.compile(r"[A-Za-z0-9+/]{8,}={0,2}")
_EXTRA_INVISIBLE = {"\u00ad", "\u034f", "\u115f", "\u1160", "\u3164", "\uffa0"}


def _visible(text: str) -> str:
    return "".join(c for c in text if c not in _EXTRA_INVISIBLE and unicodedata.category(c) != "Cf")


def _decoded_base64(text: str) -> list[str]:
    out = []
    for token in _BASE64.findall(text):
        if len(token) % 4 or re.fullmatch(r"[0-9a-fA-F]+", token):  # hex digests are not base64 text
            continue
        try:
            raw = base64.b64decode(token, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            continue
        if raw and all(c.isprintable() or c.isspace() for c in raw):
            out.append(raw)
    return out


def normalise(text: str | None) -> str:
    """The value as the detectors read it (see the module docstring); '' for None."""
    if not text:
        return ""
    s = _JSON_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    s = html.unescape(s) if "&" in s else s
    s = _PERCENT.sub(lambda m: unquote(m.group(0)), s) if "%" in s else s
    s = _visible(unicodedata.normalize("NFKC", s))
    s = _HAN_GAP.sub("", s.translate(TRADITIONAL_TO_SIMPLIFIED))
    extras = [normalise(d) for d in _decoded_base64(s)]
    return "\n".join([s, *extras])


def compact_digits(text: str) -> str:
    """Separators between digits removed (apply to normalised text)."""
    return _DIGIT_GAP.sub("", text)


def decode_blob(data: bytes | None) -> str | None:
    """BLOB bytes as text: UTF-16 (BOM, or NUL bytes in every other position), UTF-8, GB18030."""
    if data is None:
        return None
    data = bytes(data)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or (len(data) >= 4 and data.count(0) * 3 >= len(data)):
        for enc in ("utf-16", "utf-16-le", "utf-16-be"):
            try:
                return data.decode(enc)
            except UnicodeDecodeError:
                continue
    for enc in ("utf-8", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")
