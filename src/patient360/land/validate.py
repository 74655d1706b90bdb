"""Contract rules compiled to DuckDB SQL over a staged file.

A staged file is a relation with `_line`, `__malformed` (text or NULL), `__layout` (the
name of the date-layout rule a vendor value breaks, or NULL) and one VARCHAR column
`__v_<name>` per contract column (NULL when empty). `typed_select` adds the typed value
under the contract name, so contract `checks` (written over typed columns) run
unchanged. Each row gets at most one rule, the first that fires, in this order:

    malformed_line, layout:<rule>, required:<col>, type:<col>, allowed:<col>,
    pattern:<col>, range:<col>, future:<col>, plausible:<col>, check:<name>

(columns in contract order within each rule kind).

Time: a TIMESTAMPTZ value with an offset or `Z` (`2026-10-30 08:00:00 +0800`,
`2026-10-30T00:00:00Z`) is that instant; a value without one is a local time in the
file's zone (the contract's `time_zone`, see zones.py) and becomes the instant it names
there. `not_future` compares instants: the value may be at most FUTURE_TOLERANCE after
the load's instant (passed in as a literal, so a whole file uses one "now"); a DATE is
compared with the load's date in the file's zone. `not_before` (plausibility) compares
the local time in the file's zone with that date.
"""

from __future__ import annotations

import re

from patient360.contracts import Column, Contract
from patient360.land.schema import q

RULE_ORDER = (
    "malformed_line",
    "layout",
    "required",
    "type",
    "allowed",
    "pattern",
    "range",
    "future",
    "plausible",
    "check",
)
# Clock skew between a device or a source system and the loading server that is not "the future".
FUTURE_TOLERANCE = "10 minutes"
# A local time followed by an offset or Z: the instant is explicit.
_OFFSET_RE = r"[0-9]:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)? ?(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)$"
_INT_TYPES = {
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
}


def lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def v(col: Column) -> str:
    """The staged VARCHAR value of a column."""
    return q(f"__v_{col.name}")


def _base_type(col: Column) -> str:
    return re.sub(r"\(.*\)", "", col.type).strip().upper()


def instant_expr(text: str, zone: str) -> str:
    """SQL: the TIMESTAMPTZ a timestamp text names (its own offset, else local in `zone`)."""
    x = f"trim({text})"
    # a bare local time is at most 19 characters long: skip the regex for those
    explicit = f"length({x}) > 19 AND regexp_matches({x}, {lit(_OFFSET_RE)})"
    with_colon = f"regexp_replace({x}, ' ?([+-][0-9]{{2}}):?([0-9]{{2}})$', '\\1:\\2')"
    return (
        f"CASE WHEN {explicit} THEN TRY_CAST({with_colon} AS TIMESTAMPTZ) "
        f"ELSE timezone({lit(zone)}, TRY_CAST({x} AS TIMESTAMP)) END"
    )


def typed_expr(col: Column, zone: str) -> str:
    t = _base_type(col)
    if t == "VARCHAR":
        return v(col)
    if t in ("TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE"):
        return instant_expr(v(col), zone)
    if t == "BOOLEAN":
        return f"CASE lower(trim({v(col)})) WHEN 'true' THEN TRUE WHEN 'false' THEN FALSE END"
    return f"TRY_CAST(trim({v(col)}) AS {col.type})"


def _present(col: Column) -> str:
    """The value is neither NULL nor blank: `trim(v) <> ''`, skipping trim (which copies the
    string) when the first character is visible ASCII, so cannot be trimmed away."""
    val = v(col)
    return f"({val} IS NOT NULL AND (ascii({val}) BETWEEN 33 AND 126 OR trim({val}) <> ''))"


def _type_fails(col: Column) -> str | None:
    """Over typed_select's output: the typed value is already computed (cast once)."""
    t = _base_type(col)
    val, typed = v(col), q(col.name)
    if t == "VARCHAR":
        return None
    if t == "BOOLEAN":
        return f"lower(trim({val})) NOT IN ('true', 'false')"
    if t in _INT_TYPES:  # TRY_CAST would round '12.5' to 13
        return f"({typed} IS NULL OR NOT regexp_full_match(trim({val}), '[+-]?[0-9]+'))"
    if t in {"DOUBLE", "FLOAT", "REAL"}:
        return f"coalesce(NOT isfinite({typed}), TRUE)"
    return f"{typed} IS NULL"


def typed_select(contract: Contract, zone: str) -> str:
    """`*` plus every column typed under its contract name."""
    return ", ".join(["*"] + [f"{typed_expr(c, zone)} AS {q(c.name)}" for c in contract.columns])


def _is_instant(col: Column) -> bool:
    return _base_type(col) in ("TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE")


def rule_case(contract: Contract, load_ts: str, zone: str) -> str:
    """CASE expression naming the first rule a row breaks (NULL = valid). Needs typed_select.

    `load_ts`: the load's instant, ISO with offset."""
    ts = f"TIMESTAMPTZ {lit(load_ts)}"
    local_now = f"timezone({lit(zone)}, {ts})"
    whens: list[tuple[str, str]] = [("__malformed IS NOT NULL", "malformed_line")]
    whens.append(("__layout IS NOT NULL", "__LAYOUT__"))
    cols = contract.columns
    whens += [(f"NOT {_present(c)}", f"required:{c.name}") for c in cols if c.required]
    for c in cols:
        fails = _type_fails(c)
        if fails:  # the cheap, usually false test first: AND stops there for most rows
            whens.append((f"{fails} AND {_present(c)}", f"type:{c.name}"))
    for c in cols:
        if c.allowed:
            values = ", ".join(lit(a) for a in c.allowed)
            whens.append((f"{v(c)} IS NOT NULL AND {v(c)} NOT IN ({values})", f"allowed:{c.name}"))
    for c in cols:
        if c.pattern:
            whens.append(
                (
                    f"{v(c)} IS NOT NULL AND NOT regexp_full_match({v(c)}, {lit(c.pattern)})",
                    f"pattern:{c.name}",
                )
            )
    for c in cols:
        bounds = []
        if c.min is not None:
            bounds.append(f"{q(c.name)} < {c.min!r}")
        if c.max is not None:
            bounds.append(f"{q(c.name)} > {c.max!r}")
        if bounds:
            whens.append((" OR ".join(bounds), f"range:{c.name}"))
    for c in cols:
        if c.not_future:
            if _is_instant(c):
                bound = f"{ts} + INTERVAL {lit(FUTURE_TOLERANCE)}"
            elif _base_type(c) == "TIMESTAMP":
                bound = f"{local_now} + INTERVAL {lit(FUTURE_TOLERANCE)}"
            else:
                bound = f"CAST({local_now} AS DATE)"
            whens.append((f"{q(c.name)} > {bound}", f"future:{c.name}"))
    for c in cols:
        if c.not_before:
            local = f"timezone({lit(zone)}, {q(c.name)})" if _is_instant(c) else q(c.name)
            whens.append((f"{local} < DATE {lit(c.not_before)}", f"plausible:{c.name}"))
    whens += [(f"NOT coalesce(({ch.sql}), TRUE)", f"check:{ch.name}") for ch in contract.checks]
    body = "\n".join(
        f"    WHEN {cond} THEN " + ("'layout:' || __layout" if rule == "__LAYOUT__" else lit(rule))
        for cond, rule in whens
    )
    return f"CASE\n{body}\nEND"


def detail_case(contract: Contract, load_ts: str) -> str:
    """Human detail for a quarantined row, keyed on its `_rule`. Needs typed_select."""
    parts = ["    WHEN 'malformed_line' THEN __malformed"]
    parts.append("    WHEN 'layout:' || __layout THEN __layout_detail")
    for c in contract.columns:
        shown = f"coalesce({lit(c.name + '=')} || {v(c)}, {lit(c.name + ' is null')})"
        parts.append(f"    WHEN {lit('required:' + c.name)} THEN {lit(f'{c.name} is required but empty')}")
        parts.append(f"    WHEN {lit('type:' + c.name)} THEN {shown} || {lit(f' is not a valid {c.type}')}")
        if c.allowed:
            parts.append(
                f"    WHEN {lit('allowed:' + c.name)} THEN {shown} || {lit(' not in ' + ', '.join(c.allowed))}"  # noqa: E501
            )
        if c.pattern:
            parts.append(f"    WHEN {lit('pattern:' + c.name)} THEN {shown} || {lit(' does not match ' + c.pattern)}")
        if c.min is not None or c.max is not None:
            parts.append(f"    WHEN {lit('range:' + c.name)} THEN {shown} || {lit(f' outside [{c.min}, {c.max}]')}")
        if c.not_future:
            parts.append(
                f"    WHEN {lit('future:' + c.name)} THEN {shown} || "
                f"{lit(f' is after the load time {load_ts} (+{FUTURE_TOLERANCE})')}"
            )
        if c.not_before:
            parts.append(f"    WHEN {lit('plausible:' + c.name)} THEN {shown} || {lit(f' is before {c.not_before}')}")
    for ch in contract.checks:
        parts.append(f"    WHEN {lit('check:' + ch.name)} THEN {lit('check failed: ' + ch.sql)}")
    return "CASE _rule\n" + "\n".join(parts) + "\nEND"
