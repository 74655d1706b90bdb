"""Identity resolution over identifier observations (used by the dbt Python model
`restricted.identity_clusters`, unit-tested here without dbt).

Input: long table (source, source_record_id, identifier_type, identifier_value).
Output: one row per record with `best_identifier` (the normalised identifier the
cluster's pseudonym is keyed on) and `identifier_basis` (its type).
"""

from __future__ import annotations

from collections import defaultdict

import pandas as pd

STRONG_KEYS = ("id_number", "wechat_unionid", "platform_user_id")
WEAK_KEYS = ("mobile",)
BASIS_ORDER = ("id_number", "mobile", "wechat_unionid", "platform_user_id")


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        parent = self.parent
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:  # path compression
            parent[i], i = root, parent[i]
        return root

    def union(self, a: int, b: int) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            if rb < ra:
                ra, rb = rb, ra
            self.parent[rb] = ra
        return ra


def _one_edit_apart(a: str, b: str) -> bool:
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def resolve_identities(observations: pd.DataFrame) -> pd.DataFrame:
    obs = observations.astype({"source": "string", "source_record_id": "string"})
    records = obs[["source", "source_record_id"]].drop_duplicates().sort_values(["source", "source_record_id"])
    record_keys = list(zip(records["source"].tolist(), records["source_record_id"].tolist(), strict=True))
    index = {key: i for i, key in enumerate(record_keys)}
    uf = _UnionFind(len(record_keys))

    # Plain Python lists: iterating pandas extension arrays element by element is slow.
    types, values = obs["identifier_type"].tolist(), obs["identifier_value"].tolist()
    rec_idx = [index[key] for key in zip(obs["source"].tolist(), obs["source_record_id"].tolist(), strict=True)]
    by_value: dict[str, dict[str, list[int]]] = {t: defaultdict(list) for t in (*STRONG_KEYS, *WEAK_KEYS)}
    ids: dict[int, set[str]] = defaultdict(set)
    names: dict[int, set[str]] = defaultdict(set)
    birth: dict[int, str] = {}
    for i, t, v in zip(rec_idx, types, values, strict=True):
        if t in by_value:
            by_value[t][v].append(i)
        if t == "id_number":
            ids[i].add(v)
        elif t == "person_name":
            names[i].add(v)
        elif t == "birth_date":
            birth[i] = min(v, birth.get(i, v))

    def merge(a: int, b: int) -> None:
        ra, rb = uf.find(a), uf.find(b)
        if ra == rb:
            return
        root = uf.union(ra, rb)
        other = rb if root == ra else ra
        ids[root] |= ids.pop(other, set())
        names[root] |= names.pop(other, set())
        if other in birth:
            birth[root] = min(birth.pop(other), birth.get(root, "9999"))

    # Strong identifiers: merge unconditionally, in a fixed order for determinism.
    for key_type in STRONG_KEYS:
        for _v, members in sorted(by_value[key_type].items()):
            for m in members[1:]:
                merge(members[0], m)

    # Mobiles: merge unless two different verified ID numbers would end up together.
    for _v, members in sorted(by_value["mobile"].items()):
        roots = sorted({uf.find(m) for m in members})
        if len(roots) == 1:
            continue
        holders = [r for r in roots if ids.get(r)]
        distinct_ids = set().union(*(ids[r] for r in holders)) if holders else set()
        if len(distinct_ids) <= 1:
            for r in roots[1:]:
                merge(roots[0], r)
            continue
        for r in roots:
            if ids.get(r):
                continue
            target = _pick_holder(uf.find(r), [uf.find(h) for h in holders], names, birth)
            merge(target, r)

    # Best identifier per cluster: per basis type, the smallest value among the cluster's records.
    best_value: dict[tuple[int, str], str] = {}
    for i, t, v in zip(rec_idx, types, values, strict=True):
        if t in BASIS_ORDER:
            key = (uf.find(i), t)
            if key not in best_value or v < best_value[key]:
                best_value[key] = v
    rows = []
    for i, (source, record_id) in enumerate(record_keys):
        root = uf.find(i)
        basis = next((t for t in BASIS_ORDER if (root, t) in best_value), None)
        if basis is None:
            best, basis = f"{record_keys[root][0]}:{record_keys[root][1]}", "source_record"
        else:
            best = f"{basis}:{best_value[(root, basis)]}"
        rows.append((source, record_id, best, basis))
    return pd.DataFrame(rows, columns=["source", "source_record_id", "best_identifier", "identifier_basis"])


def _pick_holder(root: int, holders: list[int], names: dict[int, set[str]], birth: dict[int, str]) -> int:
    """Which ID holder sharing a phone does an ID-less record belong to?"""
    mine = names.get(root, set())
    for exact in (True, False):
        for h in holders:
            theirs = names.get(h, set())
            if any((a == b) if exact else _one_edit_apart(a, b) for a in mine for b in theirs):
                return h
    # The phone's owner is most likely the oldest holder (a guardian, not the child).
    return min(holders, key=lambda h: birth.get(h, "9999"))
