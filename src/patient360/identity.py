"""Identity resolution over identifier observations (used by the dbt Python model
`restricted.identity_clusters`, unit-tested here without dbt).

Input: long table (source, source_record_id, identifier_type, identifier_value).
Output: one row per record with `best_identifier` (the normalised identifier the
cluster's pseudonym is keyed on) and `identifier_basis` (its type).

Rules, strongest first:
1. records sharing a strong identifier (verified ID number, WeChat unionid, consult
   platform user id) are one person, unconditionally;
2. records sharing a normalised mobile are one person unless that would put two
   different ID numbers together (a child registered with a guardian's phone): then
   each record without an ID number joins the holder whose name matches (exact, else
   one edit apart), else the oldest holder. Mobiles are taken in sorted order, each
   decision seeing the merges before it, so the result is deterministic.

Rule 1 is connected components over a sparse graph (scipy, no Python per record); rule 2
runs in Python only for the mobiles whose records still belong to two or more people
after rule 1; the best identifier is picked with vectorised group-bys. At 1M patients
this is seconds where a record-by-record union-find took a minute.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

STRONG_KEYS = ("id_number", "wechat_unionid", "platform_user_id")
WEAK_KEYS = ("mobile",)
BASIS_ORDER = ("id_number", "mobile", "wechat_unionid", "platform_user_id")
OUTPUT_COLUMNS = ["source", "source_record_id", "best_identifier", "identifier_basis"]


class _UnionFind:
    """Union-find whose root is always the smallest record index of a cluster."""

    def __init__(self, parent: np.ndarray) -> None:
        self.parent = parent

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

    def roots(self) -> np.ndarray:
        """Every record's root, by pointer jumping (vectorised)."""
        parent = np.asarray(self.parent)
        while True:
            grand = parent[parent]
            if np.array_equal(grand, parent):
                return parent
            parent = grand


def _one_edit_apart(a: str, b: str) -> bool:
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def _strong_components(n: int, rec: np.ndarray, types: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Rule 1: each record's root (smallest record index of its component)."""
    strong = np.isin(types, STRONG_KEYS)
    value_id, uniques = pd.factorize(types[strong] + "\x1f" + values[strong])
    # bipartite graph records <-> identifier values; its components are the clusters
    size = n + len(uniques)
    edges = (np.ones(len(value_id), dtype=np.int8), (rec[strong], n + value_id))
    _, labels = connected_components(coo_matrix(edges, shape=(size, size)), directed=False)
    labels = labels[:n]
    smallest = np.full(labels.max(initial=-1) + 1, n, dtype=np.int64)
    np.minimum.at(smallest, labels, np.arange(n))
    return smallest[labels]


def resolve_identities(observations: pd.DataFrame) -> pd.DataFrame:
    cols = ["source", "source_record_id", "identifier_type", "identifier_value"]
    src, rid, types, values = (observations[c].to_numpy(dtype=object).astype(str).astype(object) for c in cols)
    # records in (source, record id) order; rec = each observation's record index
    rec, uniques = pd.factorize(src + "\x1f" + rid, sort=True)
    n = len(uniques)
    if n == 0:
        return pd.DataFrame(columns=OUTPUT_COLUMNS)
    records = pd.Series(uniques).str.split("\x1f", n=1, expand=True).set_axis(["source", "source_record_id"], axis=1)
    root1 = _strong_components(n, rec, types, values)

    # Rule 2 needs only the mobiles still shared by two or more clusters after rule 1
    # (a merge never splits a cluster, so a mobile within one cluster stays within one).
    mob = np.isin(types, WEAK_KEYS)
    mobile_code, _ = pd.factorize(values[mob], sort=True)
    pairs = pd.DataFrame({"mobile": mobile_code, "root": root1[rec[mob]], "rec": rec[mob]})
    spread = pairs.groupby("mobile")["root"].transform("nunique").to_numpy()
    shared = pairs[spread > 1].sort_values("mobile", kind="stable")  # mobiles in sorted order
    cuts = np.flatnonzero(np.diff(shared["mobile"].to_numpy())) + 1
    groups = np.split(shared["rec"].to_numpy(), cuts) if len(shared) else []

    uf = _UnionFind(root1.copy())
    involved = np.isin(root1[rec], shared["root"].unique()) & np.isin(types, ("id_number", "person_name", "birth_date"))
    ids: dict[int, set[str]] = defaultdict(set)
    names: dict[int, set[str]] = defaultdict(set)
    birth: dict[int, str] = {}
    for t, v, r in zip(types[involved].tolist(), values[involved].tolist(), root1[rec[involved]].tolist(), strict=True):
        if t == "id_number":
            ids[r].add(v)
        elif t == "person_name":
            names[r].add(v)
        elif t == "birth_date":
            birth[r] = min(v, birth.get(r, v))

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

    for members in groups:
        roots = sorted({uf.find(m) for m in members.tolist()})
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

    return _best_identifiers(records, uf.roots(), rec, types, values)


def _best_identifiers(
    records: pd.DataFrame, root: np.ndarray, rec: np.ndarray, types: np.ndarray, values: np.ndarray
) -> pd.DataFrame:
    """Per cluster, the smallest value of the first identifier type in BASIS_ORDER it has;
    a cluster with none is keyed on its root record (source:record id)."""
    rank = pd.Series(types).map({t: i for i, t in enumerate(BASIS_ORDER)}).to_numpy()
    basis = ~np.isnan(rank)
    cand = pd.DataFrame({"root": root[rec[basis]], "rank": rank[basis], "value": values[basis]})
    best = cand.sort_values(["root", "rank", "value"]).drop_duplicates("root")
    best_type = np.full(len(root), None, dtype=object)
    best_value = np.full(len(root), None, dtype=object)
    best_type[best["root"].to_numpy()] = np.asarray(BASIS_ORDER, dtype=object)[best["rank"].to_numpy().astype(int)]
    best_value[best["root"].to_numpy()] = best["value"].to_numpy()
    cluster_type, cluster_value = best_type[root], best_value[root]  # per record, via its cluster root
    has = cluster_type != None  # noqa: E711 (elementwise on an object array)
    source, record_id = records["source"].to_numpy(dtype=object), records["source_record_id"].to_numpy(dtype=object)
    fallback = source[root] + ":" + record_id[root]
    keyed = np.where(has, cluster_type.astype(str) + ":" + cluster_value.astype(str), fallback)
    return pd.DataFrame(
        {
            "source": source,
            "source_record_id": record_id,
            "best_identifier": keyed,
            "identifier_basis": np.where(has, cluster_type, "source_record"),
        }
    )


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
