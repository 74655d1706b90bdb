"""Pseudonyms are HMAC-SHA256, checked against fixed known answers (never recomputed
with the code under test): RFC 4231's test vectors and the project's own identifiers."""

import duckdb
import pytest

from patient360.dbt_plugin import register_pseudonym_udf
from patient360.pseudonym import PseudonymKeyError, load_key, pseudonymise

# RFC 4231 section 4, HMAC-SHA-256. Cases 3 and 4 are left out: their data (50 bytes of
# 0xdd / 0xcd) is not valid UTF-8, so no str reaches it through pseudonymise(str, key),
# and the module has no bytes-level entry point. Case 5 is published truncated to 128 bits.
RFC4231 = {
    "case1": (bytes([0x0B] * 20), "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    "case2": (
        b"Jefe",
        "what do ya want for nothing?",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ),
    "case5": (bytes([0x0C] * 20), "Test With Truncation", "a3b6167473100ee06e0c796c2955552b"),
    "case6": (
        bytes([0xAA] * 131),
        "Test Using Larger Than Block-Size Key - Hash Key First",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ),
    "case7": (
        bytes([0xAA] * 131),
        "This is a test using a larger than block-size key and a larger than block-size data. "
        "The key needs to be hashed before being used by the HMAC algorithm.",
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
    ),
}

# The project's normalised identifiers under the test key (computed once with
# `printf %s VALUE | openssl dgst -sha256 -hmac KEY`, an independent implementation).
FIXED_KEY = b"test-only-pseudonym-key-0123456789abcdef"
PROJECT_VECTORS = {
    "mobile:13812345678": "623124142b256b56b84fae926d947d09a548fa14441e664685beda3de16d8e18",
    "id_number:11010519491231002X": "e4c5951adc82165bc2779913b43dec8e1c1037ed8ef1c305478a19c950a67403",
}
# A plain SHA-256 of the mobile identifier: what an unkeyed (enumerable) pseudonym would be.
PLAIN_SHA256_MOBILE = "40f97e22d5a3965b34a22303dc343bbe337def16bf16ee0713d931cb0277677d"


@pytest.mark.parametrize(("key", "data", "expected"), RFC4231.values(), ids=RFC4231.keys())
def test_pseudonym_is_hmac_sha256_rfc4231(key, data, expected):
    got = pseudonymise(data, key)
    assert len(got) == 64
    assert got[: len(expected)] == expected


@pytest.mark.parametrize(("value", "expected"), PROJECT_VECTORS.items(), ids=["mobile", "id_number"])
def test_pseudonym_of_project_identifiers_is_fixed(value, expected):
    assert pseudonymise(value, FIXED_KEY) == expected


def test_pseudonym_is_keyed_not_a_plain_hash():
    # a plain hash is reversible by enumerating mobiles; a different key gives a different pseudonym
    assert pseudonymise("mobile:13812345678", FIXED_KEY) != PLAIN_SHA256_MOBILE
    assert pseudonymise("mobile:13812345678", b"j" * 40) != PROJECT_VECTORS["mobile:13812345678"]
    assert pseudonymise(None, FIXED_KEY) is None


@pytest.fixture
def no_key(monkeypatch, tmp_path):
    """No key anywhere: neither variable, and the project key file points into an empty folder."""
    from patient360 import pseudonym

    monkeypatch.delenv("P360_PSEUDONYM_KEY", raising=False)
    monkeypatch.delenv("P360_PSEUDONYM_KEY_FILE", raising=False)
    project_file = tmp_path / "project" / ".secrets" / "pseudonym.key"
    monkeypatch.setattr(pseudonym, "project_key_file", lambda: project_file)
    return project_file


def test_missing_or_weak_key_is_a_clear_error(no_key, monkeypatch):
    with pytest.raises(PseudonymKeyError, match="no pseudonym key: export P360_PSEUDONYM_KEY"):
        load_key()
    monkeypatch.setenv("P360_PSEUDONYM_KEY_FILE", str(no_key.parent / "missing.key"))
    with pytest.raises(PseudonymKeyError, match="missing.key, which does not exist"):
        load_key()
    monkeypatch.setenv("P360_PSEUDONYM_KEY", "short")
    with pytest.raises(PseudonymKeyError, match="too short"):
        load_key()


def test_key_precedence_variable_then_key_file_then_project_file(no_key, monkeypatch, tmp_path):
    from patient360.pseudonym import key_source

    no_key.parent.mkdir(parents=True)
    no_key.write_text("p" + STRONG + "\n")
    assert (load_key(), key_source()) == (("p" + STRONG).encode(), str(no_key))
    f = tmp_path / "key"
    f.write_text("f" + STRONG + "\n")
    monkeypatch.setenv("P360_PSEUDONYM_KEY_FILE", str(f))
    assert (load_key(), key_source()) == (("f" + STRONG).encode(), f"P360_PSEUDONYM_KEY_FILE={f}")
    monkeypatch.setenv("P360_PSEUDONYM_KEY", "v" + STRONG)
    assert (load_key(), key_source()) == (("v" + STRONG).encode(), "P360_PSEUDONYM_KEY")


def test_the_key_in_use_is_named_in_one_line_never_shown(no_key, monkeypatch, tmp_path, caplog):
    from patient360.pseudonym import key_id

    f = tmp_path / "key"
    f.write_text("f" + STRONG + "\n")
    monkeypatch.setenv("P360_PSEUDONYM_KEY_FILE", str(f))
    with caplog.at_level("INFO", logger="patient360.pseudonym"):
        load_key()
        load_key()  # once per process and key, not on every call
    lines = [r.getMessage() for r in caplog.records if r.name == "patient360.pseudonym"]
    assert lines == [f"pseudonym key {key_id(('f' + STRONG).encode())} from P360_PSEUDONYM_KEY_FILE={f}"]
    assert STRONG not in caplog.text


STRONG = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"  # 40 random-looking hex characters

WEAK_KEYS = {
    "one_character": "v" * 40,
    "repeated_word": "secret" * 7,
    "repeated_alphabet": "abcdefghij" * 4,
    "padded_mobile": "0" * 21 + "13812345678",
    "words_repeated": "passwordpassword1234567890password",
    "31_bytes": STRONG[:31],
}


@pytest.mark.parametrize("key", WEAK_KEYS.values(), ids=WEAK_KEYS.keys())
def test_short_or_low_entropy_keys_are_refused_at_start_up(no_key, monkeypatch, key):
    monkeypatch.setenv("P360_PSEUDONYM_KEY", key)
    with pytest.raises(PseudonymKeyError, match="too short|too little entropy") as err:
        load_key()
    assert key not in str(err.value)


def test_key_id_is_a_stable_fingerprint_that_does_not_reveal_the_key():
    from patient360.pseudonym import key_id

    assert key_id(FIXED_KEY) == key_id(FIXED_KEY) != key_id(("x" + STRONG).encode())
    assert len(key_id(FIXED_KEY)) == 16 and FIXED_KEY.decode() not in key_id(FIXED_KEY)
    # the fingerprint is not an identifier pseudonym: nothing published can equal it
    assert key_id(FIXED_KEY) not in {v[:16] for v in PROJECT_VECTORS.values()}


def test_duckdb_udf_gives_the_fixed_pseudonyms():
    con = duckdb.connect()
    register_pseudonym_udf(con, FIXED_KEY)
    values = list(PROJECT_VECTORS)
    got = con.execute("select p360_pseudonym(?), p360_pseudonym(?), p360_pseudonym(NULL)", values).fetchone()
    assert got == (*PROJECT_VECTORS.values(), None)
