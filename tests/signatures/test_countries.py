"""The country list: real countries only, in the order a reader of the language expects."""

from __future__ import annotations

import pytest

from app.signatures.schemas import collation_key, country_names


@pytest.mark.parametrize(
    "code", ["XA", "XB", "AC", "CP", "CQ", "DG", "EA", "IC", "TA", "EU", "EZ", "UN", "QO", "ZZ"]
)
def test_no_pseudo_regions_sub_territories_or_groupings(code: str) -> None:
    assert code not in country_names()
    assert code not in country_names("de")


def test_iso_countries_and_kosovo() -> None:
    names = country_names()
    # ISO 3166-1 has 249 codes; Kosovo makes 250. A change in CLDR data shows up here.
    assert len(names) == 250
    assert names["XK"] == "Kosovo"
    for code in ("UA", "RU", "GE", "AX", "CI", "RE", "TR", "US"):
        assert code in names


@pytest.mark.parametrize("locale", ["en", "de", "fr", "ru"])
def test_sorted_ignoring_accents_and_case(locale: str) -> None:
    names = list(country_names(locale).values())
    keys = [collation_key(name) for name in names]
    assert keys == sorted(keys)


def test_accented_names_sit_among_their_letter() -> None:
    codes = list(country_names("en"))
    # Åland Islands among the A's, not after Zimbabwe; Côte d'Ivoire among the C's.
    assert codes.index("AX") < codes.index("BE")
    assert codes.index("AF") < codes.index("AX") < codes.index("AL")  # "aland" < "albania"
    assert codes.index("CM") < codes.index("CI") < codes.index("HR")
    assert codes[-1] == "ZW"
    # Réunion among the R's in English, and Österreich among the O's in German.
    assert codes.index("RE") < codes.index("RO")
    german = list(country_names("de"))
    assert german.index("OM") < german.index("AT") < german.index("PK")


def test_collation_key() -> None:
    assert collation_key("Åland Islands") == "aland islands"
    assert collation_key("CÔTE D'IVOIRE") == "cote d'ivoire"
