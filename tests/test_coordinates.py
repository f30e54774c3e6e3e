"""Tests for geo_stunting.study._coordinates: parsing coordinate cells from field spreadsheets."""

from __future__ import annotations

import datetime as dt
import decimal
import fractions
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo_stunting.study import _coordinates as coordinates
from geo_stunting.study._coordinates import (
    CoordinateParseError,
    ParsedCoordinate,
    parse_coordinate,
    parse_coordinate_column,
)

DMS_3_12_55 = 3 + 12 / 60 + 55 / 3600
DMS_104_39_7_2 = 104 + 39 / 60 + 7.2 / 3600

# (cell, expected value, expected axis, expected form)
ACCEPTED: list[tuple[object, float, str | None, str]] = [
    # numbers
    (-3.2154, -3.2154, None, "number"),
    (104, 104.0, None, "number"),
    (np.float32(1.5), 1.5, None, "number"),
    (np.float64(-3.2154), -3.2154, None, "number"),
    (np.int64(-7), -7.0, None, "number"),
    (decimal.Decimal("-3.2154"), -3.2154, None, "number"),
    (fractions.Fraction(-1, 4), -0.25, None, "number"),
    (0, 0.0, None, "number"),
    # numeric text
    ("-3.2154", -3.2154, None, "number"),
    ("104.65", 104.65, None, "number"),
    ("  -3.2154 ", -3.2154, None, "number"),
    ("\t104.65\u00a0", 104.65, None, "number"),
    ("+104.6", 104.6, None, "number"),
    ("1e-3", 0.001, None, "number"),
    ("-.5", -0.5, None, "number"),
    ("3.", 3.0, None, "number"),
    ("\u22123.2154", -3.2154, None, "number"),  # unicode minus
    ("\u20133.2154", -3.2154, None, "number"),  # en dash typed as minus
    (np.str_("104.65"), 104.65, None, "number"),
    # decimal comma
    ("-3,2154", -3.2154, None, "decimal_comma"),
    ("104,658", 104.658, None, "decimal_comma"),
    ("\u22123,2154", -3.2154, None, "decimal_comma"),
    (" 0,5 ", 0.5, None, "decimal_comma"),
    # degrees-minutes-seconds
    ("3°12'55\" S", -DMS_3_12_55, "lat", "dms"),
    ("3°12'55\"S", -DMS_3_12_55, "lat", "dms"),
    ("3°12'55S", -DMS_3_12_55, "lat", "dms"),
    ("S 3°12'55\"", -DMS_3_12_55, "lat", "dms"),
    ("S3°12'55\"", -DMS_3_12_55, "lat", "dms"),
    ("104° 39' 7.2\" E", DMS_104_39_7_2, "lon", "dms"),
    ("104°39'7,2\"E", DMS_104_39_7_2, "lon", "dms"),
    ("104°39'7.2\"W", -DMS_104_39_7_2, "lon", "dms"),
    ("3 12 55 S", -DMS_3_12_55, "lat", "dms"),
    ("3 12 55 s", -DMS_3_12_55, "lat", "dms"),
    ("3:12:55 S", -DMS_3_12_55, "lat", "dms"),
    ("3d12m55s S", -DMS_3_12_55, "lat", "dms"),
    ("3d 12m 55s", DMS_3_12_55, None, "dms"),  # letter style: final s is seconds
    ("3D12M55S", DMS_3_12_55, None, "dms"),
    ("3°12.5' S", -(3 + 12.5 / 60), "lat", "dms"),
    ("3°12,5' LS", -(3 + 12.5 / 60), "lat", "dms"),
    ("3°12'", 3.2, None, "dms"),
    ("3 12 N", 3.2, "lat", "dms"),
    ("3.2154° S", -3.2154, "lat", "dms"),
    ("3,2154°S", -3.2154, "lat", "dms"),
    ("-3.2154°", -3.2154, None, "dms"),
    ("-3°12'55\"", -DMS_3_12_55, None, "dms"),
    ("180°", 180.0, None, "dms"),
    ("90°0'0\" N", 90.0, "lat", "dms"),
    # look-alike symbols
    ("3º12′55″ S", -DMS_3_12_55, "lat", "dms"),
    ("3˚12’55” S", -DMS_3_12_55, "lat", "dms"),
    ("3°12‘55'' S", -DMS_3_12_55, "lat", "dms"),
    ("3°12'55'' S", -DMS_3_12_55, "lat", "dms"),
    ("3° 12′ 55″ LS", -DMS_3_12_55, "lat", "dms"),
    ("3\u00b012'55\" S", -DMS_3_12_55, "lat", "dms"),
    # hemisphere letters, case and Indonesian forms, before or after
    ("3°12'55\" s", -DMS_3_12_55, "lat", "dms"),
    ("3°12'55\" n", DMS_3_12_55, "lat", "dms"),
    ("3°12'55\" LU", DMS_3_12_55, "lat", "dms"),
    ("3°12'55\" LS", -DMS_3_12_55, "lat", "dms"),
    ("3°12'55\"ls", -DMS_3_12_55, "lat", "dms"),
    ("LS 3°12'55\"", -DMS_3_12_55, "lat", "dms"),
    ("104°39'7.2\" BT", DMS_104_39_7_2, "lon", "dms"),
    ("BT 104°39'7.2\"", DMS_104_39_7_2, "lon", "dms"),
    ("104°39'7.2\" BB", -DMS_104_39_7_2, "lon", "dms"),
    ("bb104°39'7.2\"", -DMS_104_39_7_2, "lon", "dms"),
    # decimal degrees with a hemisphere letter
    ("3.2154 S", -3.2154, "lat", "hemisphere_decimal"),
    ("3.2154 N", 3.2154, "lat", "hemisphere_decimal"),
    ("104.65E", 104.65, "lon", "hemisphere_decimal"),
    ("104.65e", 104.65, "lon", "hemisphere_decimal"),
    ("104.65 W", -104.65, "lon", "hemisphere_decimal"),
    ("3,2154 LS", -3.2154, "lat", "hemisphere_decimal"),
    ("104,65 BT", 104.65, "lon", "hemisphere_decimal"),
    ("LU 0.5", 0.5, "lat", "hemisphere_decimal"),
    ("E 104.65", 104.65, "lon", "hemisphere_decimal"),
    ("3.2154 S.", -3.2154, "lat", "hemisphere_decimal"),
    ("150 E", 150.0, "lon", "hemisphere_decimal"),
    # sign rule: a minus with S/W/LS/BB is redundant, not a double negative; + with N/E is fine
    ("-3.2154 S", -3.2154, "lat", "hemisphere_decimal"),
    ("-3°12'55\" LS", -DMS_3_12_55, "lat", "dms"),
    ("S -3.2154", -3.2154, "lat", "hemisphere_decimal"),
    ("-104.65 BB", -104.65, "lon", "hemisphere_decimal"),
    ("+3.2154 N", 3.2154, "lat", "hemisphere_decimal"),
    ("+104.65 BT", 104.65, "lon", "hemisphere_decimal"),
]


@pytest.mark.parametrize(("cell", "value", "axis", "form"), ACCEPTED, ids=repr)
def test_accepted(cell: object, value: float, axis: str | None, form: str) -> None:
    parsed = parse_coordinate(cell)
    assert isinstance(parsed, ParsedCoordinate)
    assert parsed.value == pytest.approx(value, abs=1e-9)
    assert type(parsed.value) is float
    assert parsed.axis == axis
    assert parsed.form == form


MISSING: list[object] = [
    None,
    float("nan"),
    np.nan,
    np.float32("nan"),
    decimal.Decimal("NaN"),
    decimal.Decimal("sNaN"),
    pd.NA,
    pd.NaT,
    "",
    "  ",
    "\t\n",
    "-",
    "\u2212",
    "--",
    "NA",
    "na",
    "n/a",
    "N/A",
    "#N/A",
    "nan",
    "NaN",
    "None",
    "null",
    "?",
    "kosong",
    "Tidak ada",
]


@pytest.mark.parametrize("cell", MISSING, ids=repr)
def test_missing(cell: object) -> None:
    with pytest.raises(CoordinateParseError, match=r"^missing value"):
        parse_coordinate(cell)


# (cell, regex that the message must match)
REJECTED: list[tuple[object, str]] = [
    # non-coordinates among Python objects
    (True, r"true/false"),
    (np.False_, r"true/false"),
    (float("inf"), r"infinite"),
    (-math.inf, r"infinite"),
    (np.float64("-inf"), r"infinite"),
    (decimal.Decimal("Infinity"), r"infinite"),
    (10**400, r"too large"),
    (fractions.Fraction(10**400, 3), r"too large"),
    (b"-3.2154", r"type bytes"),
    ([1.0, 2.0], r"type list"),
    ({"lat": 1}, r"type dict"),
    (complex(1, 2), r"type complex"),
    (object(), r"type object"),
    (np.array(3.2), r"type ndarray"),
    (dt.time(3, 12, 55), r"date or time .*3:12:55"),
    (dt.datetime(2024, 1, 1, 3, 12, 55, tzinfo=dt.UTC), r"date or time"),
    (pd.Timestamp("2024-01-01"), r"date or time"),
    (np.datetime64("NaT"), r"date or time"),
    # ambiguous numbers: never guessed
    ("104,658,123", r"more than one comma"),
    ("3,2,1", r"more than one comma"),
    ("1.234,56", r"mixes '\.' and ','"),
    ("1,234.56", r"mixes '\.' and ','"),
    ("1.2.3", r"more than one decimal point"),
    ("1.234,56 E", r"mixes '\.' and ','"),
    ("3,", r"not a complete number"),
    # text that is not a number at all
    ("abc", r"not a number or a degrees-minutes-seconds value"),
    ("3°12'S 5'", r"not a number or a degrees-minutes-seconds value; write decimal degrees"),
    ("inf", r"not a number"),
    ("1_000", r"not a number"),
    ("31255 S 5", r"not a number"),
    ("S 3.2 S", r"not a number"),
    ("3.2 X", r"not a number"),
    ("3.2 South", r"not a number"),
    ("1e999", r"too large"),
    ("#VALUE!", r"spreadsheet error"),
    ("#DIV/0!", r"spreadsheet error"),
    ("3" * 200, r"too long"),
    ("\x00", r"not a number"),
    ("\U0001f600", r"not a number"),
    # DMS-internal checks
    ("3°75' S", r"minutes 75, which must be below 60"),
    ("3°12'60\" S", r"seconds 60, which must be below 60"),
    ("3 12 75.5 S", r"seconds 75.5"),
    ("3:60 S", r"minutes 60"),
    ("181°", r"more than 180 degrees"),
    ("180°0'1\" E", r"more than 180 degrees"),
    ("95°12' S", r"more than 90 degrees, too far for a latitude \(S\)"),
    ("91 LU", r"more than 90 degrees, too far for a latitude \(LU\)"),
    ("200.5 E", r"more than 180 degrees, too far for a longitude"),
    ("3.5°12' S", r"decimals before the last part"),
    ("3°12.5'30\" S", r"decimals before the last part"),
    # sign contradicting the hemisphere letter
    ("-3°12' N", r"sign - but hemisphere N"),
    ("-104.65 E", r"sign - but hemisphere E"),
    ("-3,2 LU", r"sign - but hemisphere LU"),
    ("+3.2154 S", r"sign \+ but hemisphere S"),
    ("+104.65 bb", r"sign \+ but hemisphere BB"),
]


@pytest.mark.parametrize(("cell", "pattern"), REJECTED, ids=repr)
def test_rejected(cell: object, pattern: str) -> None:
    with pytest.raises(CoordinateParseError, match=pattern) as info:
        parse_coordinate(cell)
    message = str(info.value)
    assert "\n" not in message
    assert len(message) < 200


@pytest.mark.parametrize(
    "cell", ["3°12'S 5'", "104,658,123", "-3°12' N", "3°75' S", "abc", "95 S"], ids=repr
)
def test_message_quotes_value_and_shows_example(cell: str) -> None:
    with pytest.raises(CoordinateParseError) as info:
        parse_coordinate(cell)
    message = str(info.value)
    assert message.startswith(repr(cell))
    assert "e.g." in message or "such as" in message or "check" in message


@pytest.mark.parametrize("cell", ["0 S", "-0", "0°0'0\" W", "-0,0 LS"])
def test_zero_is_never_negative_zero(cell: str) -> None:
    assert math.copysign(1.0, parse_coordinate(cell).value) == 1.0


def test_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a number"):
        parse_coordinate("abc")


def test_parsed_coordinate_is_frozen() -> None:
    parsed = parse_coordinate("3.2 S")
    with pytest.raises(AttributeError):
        parsed.value = 1.0  # type: ignore[misc]


def test_long_value_is_truncated_in_message() -> None:
    with pytest.raises(CoordinateParseError) as info:
        parse_coordinate("x" * 10_000)
    assert len(str(info.value)) < 150


def test_broken_repr_does_not_escape() -> None:
    class Weird:
        def __repr__(self) -> str:
            raise RuntimeError

    with pytest.raises(CoordinateParseError, match="Weird object"):
        parse_coordinate(Weird())


def test_str_subclass_overrides_are_ignored() -> None:
    class Sneaky(str):
        __slots__ = ()

        def strip(self, chars: str | None = None) -> str:
            raise RuntimeError

    assert parse_coordinate(Sneaky(" 3,5 LS ")).value == -3.5


# ---------------------------------------------------------------- columns


def test_column_from_list_mixes_forms() -> None:
    cells = [-3.2, "3°12'55\" LS", "104,65 BT", None, "abc", "1.234,56", True]
    values, errors, axes = parse_coordinate_column(cells)
    assert values.dtype == np.float64
    assert values.shape == (7,)
    np.testing.assert_allclose(values[:3], [-3.2, -DMS_3_12_55, 104.65])
    assert np.isnan(values[3:]).all()
    assert errors[:3] == [None, None, None]
    assert all(e is not None for e in errors[3:])
    assert errors[3] is not None
    assert errors[3].startswith("missing value")
    assert axes == [None, "lat", "lon", None, None, None, None]


def test_column_errors_match_single_cell_messages() -> None:
    cells = ["abc", "-3°12' N", "", math.inf]
    _, errors, _ = parse_coordinate_column(cells)
    for cell, error in zip(cells, errors, strict=True):
        with pytest.raises(CoordinateParseError) as info:
            parse_coordinate(cell)
        assert error == str(info.value)


def test_column_from_object_series_uses_positions_not_labels() -> None:
    series = pd.Series(["3,5 LS", None, "104.65E"], index=[10, 20, 30], dtype=object)
    values, errors, axes = parse_coordinate_column(series)
    np.testing.assert_allclose(values, [-3.5, np.nan, 104.65])
    assert errors[0] is None
    assert errors[2] is None
    assert axes == ["lat", None, "lon"]


def test_column_from_string_dtype_series() -> None:
    series = pd.Series(["-3,2", pd.NA, "3 12 S"], dtype="string")
    values, errors, _ = parse_coordinate_column(series)
    np.testing.assert_allclose(values, [-3.2, np.nan, -3.2])
    assert errors[1] is not None
    assert errors[1].startswith("missing value")


@pytest.mark.parametrize(
    "column",
    [
        pd.Series([-3.2, np.nan, math.inf, 104.5]),
        pd.Series([-3.2, None, -math.inf, 104.5], dtype="Float64"),
        np.array([-3.2, np.nan, math.inf, 104.5]),
    ],
    ids=["float64", "Float64", "ndarray"],
)
def test_numeric_column_fast_path(
    column: pd.Series[Any] | np.ndarray[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = column.copy()
    calls: list[object] = []

    def spy(value: object) -> ParsedCoordinate:
        calls.append(value)
        return parse_coordinate(value)

    monkeypatch.setattr(coordinates, "parse_coordinate", spy)
    values, errors, axes = parse_coordinate_column(column)
    np.testing.assert_allclose(values, [-3.2, np.nan, np.nan, 104.5])
    assert errors[0] is None
    assert errors[3] is None
    assert errors[1] is not None
    assert errors[1].startswith("missing value")
    assert errors[2] is not None
    assert "infinite" in errors[2]
    assert axes == [None] * 4
    assert len(calls) == 2  # only the failed rows are explained, one call each
    # the caller's data is not modified
    if isinstance(column, pd.Series):
        assert isinstance(original, pd.Series)
        pd.testing.assert_series_equal(column, original)
    else:
        np.testing.assert_array_equal(column, original)


def test_integer_columns() -> None:
    values, errors, _ = parse_coordinate_column(pd.Series([1, None, 3], dtype="Int64"))
    np.testing.assert_allclose(values, [1.0, np.nan, 3.0])
    assert errors[0] is None
    assert errors[1] is not None
    values, errors, _ = parse_coordinate_column(np.array([1, 2], dtype=np.int32))
    assert values.dtype == np.float64
    assert errors == [None, None]


def test_bool_column_is_rejected() -> None:
    values, errors, _ = parse_coordinate_column(pd.Series([True, False]))
    assert np.isnan(values).all()
    assert all(e is not None and "true/false" in e for e in errors)


def test_empty_column() -> None:
    values, errors, axes = parse_coordinate_column([])
    assert values.shape == (0,)
    assert values.dtype == np.float64
    assert errors == []
    assert axes == []


def test_column_rejects_a_single_string() -> None:
    with pytest.raises(TypeError, match="not one string"):
        parse_coordinate_column("-3.2154")


# ---------------------------------------------------------------- properties

COORDINATE_ALPHABET = "0123456789.,-+−  °º˚'′’‘\"″”:dmsDMSNEWLUBTbtlux#/\t"
ANY_OBJECT = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**500), max_value=10**500),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(width=32).map(np.float32),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.fractions(),
    st.complex_numbers(),
    st.binary(),
    st.text(),
    st.text(alphabet=COORDINATE_ALPHABET, max_size=20),
    st.lists(st.floats(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.tuples(st.floats(), st.floats()),
    st.sampled_from([pd.NA, pd.NaT, np.nan, np.bool_(True), np.datetime64("NaT"), object()]),
    st.from_type(object),
)


def _finite_or_parse_error(cell: object) -> None:
    try:
        parsed = parse_coordinate(cell)
    except CoordinateParseError as err:
        message = str(err)
        assert message
        assert "\n" not in message
        assert len(message) < 250
    else:
        assert type(parsed.value) is float
        assert math.isfinite(parsed.value)
        assert parsed.axis in {None, "lat", "lon"}
        if parsed.axis == "lat":
            assert abs(parsed.value) <= 90
        elif parsed.form == "dms" or parsed.axis == "lon":
            assert abs(parsed.value) <= 180


@settings(max_examples=500)
@given(st.text())
def test_any_text_gives_a_float_or_a_parse_error(cell: str) -> None:
    _finite_or_parse_error(cell)


@settings(max_examples=1000)
@given(st.text(alphabet=COORDINATE_ALPHABET, max_size=24))
def test_coordinate_like_text_gives_a_float_or_a_parse_error(cell: str) -> None:
    _finite_or_parse_error(cell)


@settings(max_examples=500)
@given(ANY_OBJECT)
def test_any_object_gives_a_float_or_a_parse_error(cell: object) -> None:
    _finite_or_parse_error(cell)


@given(st.lists(ANY_OBJECT, max_size=10))
def test_any_column_gives_aligned_outputs(cells: list[object]) -> None:
    values, errors, axes = parse_coordinate_column(cells)
    assert len(values) == len(errors) == len(axes) == len(cells)
    assert np.array_equal(np.isnan(values), [e is not None for e in errors])
    assert np.isfinite(values[~np.isnan(values)]).all()


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_finite_floats_and_their_text_round_trip_exactly(x: float) -> None:
    assert parse_coordinate(x).value == x
    assert parse_coordinate(repr(x)).value == x
    assert parse_coordinate(f"  {x!r}\t").value == x


@given(st.floats(-180, 180), st.integers(1, 9))
def test_decimal_comma_round_trips(x: float, places: int) -> None:
    text = f"{x:.{places}f}".replace(".", ",")
    assert parse_coordinate(text).value == pytest.approx(x, abs=10.0**-places)
    assert parse_coordinate(text).form == "decimal_comma"


_SCALE = 10_000  # seconds are written with four decimals (1/36_000_000 of a degree)


def _format_dms(value: float, axis: str, style: int, letters: int) -> str:
    """Write ``value`` as degrees-minutes-seconds text with a hemisphere letter."""
    positive, negative = [("N", "S"), ("LU", "LS"), ("n", "s")][letters]
    if axis == "lon":
        positive, negative = [("E", "W"), ("BT", "BB"), ("e", "w")][letters]
    hemi = negative if value < 0 else positive
    total = round(abs(value) * 3600 * _SCALE)
    deg, rest = divmod(total, 3600 * _SCALE)
    minutes, rest = divmod(rest, 60 * _SCALE)
    sec = f"{rest // _SCALE}.{rest % _SCALE:04d}"
    decimal_minutes = f"{minutes + rest / (60 * _SCALE):.8f}"
    return [
        f"{deg}°{minutes}'{sec}\" {hemi}",
        f"{deg}°{minutes}'{sec}\"{hemi}",
        f"{hemi} {deg}° {minutes}' {sec}\"",
        f"{deg}º{minutes}′{sec.replace('.', ',')}″ {hemi}",
        f"{deg}˚{minutes}’{sec}'' {hemi}",
        f"{deg} {minutes} {sec} {hemi}",
        f"{deg}:{minutes}:{sec} {hemi}",
        f"{deg}d{minutes}m{sec}s {hemi}",
        f"{deg}°{decimal_minutes}' {hemi}",
        f"{abs(value):.8f}° {hemi}",
        f"{abs(value):.8f} {hemi}",
        # fixed-point: str() would write 2.25e-05 for tiny values, not a coordinate
        f"{hemi}{f'{abs(value):.8f}'.rstrip('0').rstrip('.').replace('.', ',')}",
    ][style]


@given(
    st.sampled_from(["lat", "lon"]),
    st.floats(-1, 1, allow_nan=False),
    st.integers(0, 11),
    st.integers(0, 2),
)
def test_dms_round_trip(axis: str, fraction: float, style: int, letters: int) -> None:
    value = fraction * (90 if axis == "lat" else 180)
    text = _format_dms(value, axis, style, letters)
    parsed = parse_coordinate(text)
    assert parsed.value == pytest.approx(value, abs=1e-6), text
    assert parsed.axis == axis
    assert parsed.form in {"dms", "hemisphere_decimal"}
