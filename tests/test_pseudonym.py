import hashlib
import hmac

import duckdb
import pytest

from patient360.dbt_plugin import register_pseudonym_udf
from patient360.pseudonym import PseudonymKeyError, load_key, pseudonymise


def test_pseudonym_is_keyed_hmac_sha256():
    key = b"k" * 40
    expected = hmac.new(key, b"mobile:13812345678", hashlib.sha256).hexdigest()
    assert pseudonymise("mobile:13812345678", key) == expected
    # not a plain hash: a plain hash is reversible by enumerating mobiles
    assert expected != hashlib.sha256(b"mobile:13812345678").hexdigest()
    assert pseudonymise("mobile:13812345678", b"j" * 40) != expected
    assert pseudonymise(None, key) is None


def test_missing_or_weak_key_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("P360_PSEUDONYM_KEY", raising=False)
    monkeypatch.delenv("P360_PSEUDONYM_KEY_FILE", raising=False)
    with pytest.raises(PseudonymKeyError, match="P360_PSEUDONYM_KEY is not set"):
        load_key()
    monkeypatch.setenv("P360_PSEUDONYM_KEY", "short")
    with pytest.raises(PseudonymKeyError, match="too short"):
        load_key()


def test_key_file(monkeypatch, tmp_path):
    monkeypatch.delenv("P360_PSEUDONYM_KEY", raising=False)
    f = tmp_path / "key"
    f.write_text("f" * 48 + "\n")
    monkeypatch.setenv("P360_PSEUDONYM_KEY_FILE", str(f))
    assert load_key() == b"f" * 48


def test_duckdb_udf_matches_python():
    key = b"u" * 40
    con = duckdb.connect()
    register_pseudonym_udf(con, key)
    got = con.execute("select p360_pseudonym('id:11010519491231002X'), p360_pseudonym(NULL)").fetchone()
    assert got == (pseudonymise("id:11010519491231002X", key), None)
