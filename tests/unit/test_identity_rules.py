"""Which identity claim a field shows, and the user hash (pure rules)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from pounce.domain.identity import Claim, Provenance, best, ordered, user_hash, user_hash_matches

T0 = datetime(2026, 12, 6, 12, tzinfo=UTC)


def claim(field: str, value: str, provenance: Provenance, minutes: int = 0) -> Claim:
    return Claim("v_1", field, value, provenance, None, None, T0 + timedelta(minutes=minutes))


def test_a_verified_value_wins_over_later_unverified_ones() -> None:
    claims = [
        claim("email", "ann@acme.test", Provenance.VERIFIED),
        claim("email", "ceo@acme.test", Provenance.VISITOR, minutes=5),
        claim("email", "a@enriched.test", Provenance.ENRICHED, minutes=9),
        claim("email", "ann@crm.test", Provenance.CRM, minutes=7),
    ]
    assert best(claims)["email"].value == "ann@acme.test"
    assert [c.provenance for c in ordered(claims)] == [
        Provenance.VERIFIED,
        Provenance.CRM,
        Provenance.VISITOR,
        Provenance.ENRICHED,
    ]


def test_the_latest_claim_of_a_provenance_counts_across_devices() -> None:
    older = claim("name", "Ann", Provenance.VERIFIED)
    newer = Claim("v_2", "name", "Ann Lee", Provenance.VERIFIED, None, None, T0 + timedelta(1))
    assert best([newer, older])["name"].value == "Ann Lee"
    assert len(ordered([older, newer])) == 1


def test_fields_come_in_a_fixed_order() -> None:
    claims = [
        claim("company", "Acme", Provenance.VISITOR),
        claim("name", "Ann", Provenance.VISITOR),
    ]
    assert [c.field for c in ordered(claims)] == ["name", "company"]


def test_user_hash_is_hmac_sha256_of_the_user_id() -> None:
    expected = hmac.new(b"s3cret", b"42", hashlib.sha256).hexdigest()
    assert user_hash("s3cret", "42") == expected
    assert user_hash_matches("s3cret", "42", expected.upper())
    assert not user_hash_matches("s3cret", "43", expected)
    assert not user_hash_matches("", "42", user_hash("", "42"))  # no secret, no match
