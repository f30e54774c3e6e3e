"""Parse coordinate values typed into field spreadsheets.

Cells arrive as numbers, as text with a decimal comma (``"-3,2154"``, common in
Indonesian spreadsheets) or as degrees-minutes-seconds text (``3°12'55" S``,
``104° 39' 7.2" BT``).  :func:`parse_coordinate` turns one cell into a signed
decimal value or raises :class:`CoordinateParseError` saying what is wrong.

Rules
-----
* ``S``/``W`` and the Indonesian ``LS`` (Lintang Selatan) / ``BB`` (Bujur Barat)
  make the value negative; ``N``/``E``/``LU``/``BT`` keep it positive.  A minus
  sign with a southern/western letter is a redundant restatement (``"-3.2 S"`` is
  -3.2, never +3.2); a sign that contradicts the letter (``"-3°12' N"``,
  ``"+3.2 S"``) is an error.
* In the letter style ``3d12m55s`` the final ``s`` is the seconds unit; elsewhere
  (``3°12'55S``, ``3 12 55 s``) a final ``s`` is the hemisphere South.
* Ambiguous numbers (``"104,658,123"``, ``"1.234,56"``) are rejected, not guessed.
* Range checks against the axis are the caller's job, except that DMS text must
  be at most 180 degrees with minutes/seconds below 60, and a hemisphere letter
  names the axis (latitude letters allow at most 90 degrees).
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import numbers
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy.typing as npt

__all__ = [
    "CoordinateParseError",
    "ParsedCoordinate",
    "parse_coordinate",
    "parse_coordinate_column",
]

Axis = Literal["lat", "lon"]
Form = Literal["number", "decimal_comma", "dms", "hemisphere_decimal"]
_Body = tuple[str | None, float, Form]  # (sign, magnitude, form)

_MAX_TEXT = 80
_MAX_QUOTE = 40
_SIXTY = 60.0
_MAX_LAT = 90.0
_MAX_DEG = 180.0
_EXAMPLE = "write decimal degrees such as -3.2154"
_DMS_EXAMPLE = "write e.g. 3°12'55\" S"

_MISSING = frozenset(
    "|-|--|?|.|na|n/a|n.a.|#n/a|nan|none|null|nil|missing|kosong|tidak ada|tdk ada".split("|"),  # noqa: SIM905
)
_I, _S, _X = re.IGNORECASE, re.DOTALL, re.VERBOSE
_EXCEL_ERROR = re.compile(r"#(?:value!|ref!|div/0!|num!|name\?|null!|spill!|calc!)", _I)
_LOOKALIKES = str.maketrans(
    {
        **dict.fromkeys("\u2212\u2010\u2011\u2012\u2013\u2014\ufe63\uff0d", "-"),
        **dict.fromkeys("\u00ba\u02da", "\u00b0"),
        **dict.fromkeys("\u2032\u2019\u2018\u00b4`\u02b9\u02bc", "'"),
        **dict.fromkeys("\u2033\u201d\u201c\u02ba", '"'),
    },
)
# Two-letter Indonesian forms come first so "LS" is not read as "S".
_HEMI = r"(?P<hemi>LU|LS|BT|BB|[NSEW])"
_LEADING_HEMI = re.compile(rf"^{_HEMI}\.?(?![A-Za-z])\s*(?P<body>.*)$", _I | _S)
_TRAILING_HEMI = re.compile(rf"^(?P<body>.*?)\s*(?<![A-Za-z]){_HEMI}\.?$", _I | _S)
_TIME_TYPES = (dt.date, dt.time, dt.timedelta, np.datetime64, np.timedelta64)
_NEGATIVE_HEMI = frozenset({"S", "W", "LS", "BB"})
_LAT_HEMI = frozenset({"N", "S", "LU", "LS"})

_SIGN = r"(?P<sign>[+-])?\s*"
_NUMBER = re.compile(rf"^{_SIGN}(?P<num>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)$")
_COMMA_NUMBER = re.compile(rf"^{_SIGN}(?P<num>\d*,\d+)$")
_NUMBERISH = re.compile(r"^[+-]?\s*[\d.,]+$")
_PART = r"\d+(?:[.,]\d+)?"
# Between parts there must be a unit or a separator (space/colon), so "31255" is
# never split into 3°12'55".  ``(?(du)A|B)``: A if the degree unit matched, else B.
_DMS = re.compile(
    rf"""^{_SIGN}
    (?P<deg>{_PART})(?:\s*(?P<du>[°d]))?
    (?:(?(du)\s*|(?:\s*:\s*|\s+))
        (?P<min>{_PART})(?:\s*(?P<mu>['m]))?
        (?:(?(mu)\s*|(?:\s*:\s*|\s+))
            (?P<sec>{_PART})(?:\s*(?P<su>["s]))?
        )?
    )?$""",
    _X | _I,
)


class CoordinateParseError(ValueError):
    """A cell that is not a coordinate.

    ``str(err)`` is a short, one-line reason naming what was found and how to
    fix it, e.g. ``'3°12'S 5' is not a number or a degrees-minutes-seconds
    value; write decimal degrees such as -3.2154``.
    """


@dataclass(frozen=True)
class ParsedCoordinate:
    """A successfully parsed coordinate cell.

    Attributes
    ----------
    value : float
        Signed decimal degrees (south and west negative); always finite.
    axis : {"lat", "lon"} or None
        Axis named by a hemisphere letter (N/S/LU/LS: "lat"; E/W/BT/BB: "lon").
    form : {"number", "decimal_comma", "dms", "hemisphere_decimal"}
        How the cell was written.  "dms" is any text with degree/minute/second
        parts or symbols (also ``3.2154° S``); "hemisphere_decimal" is a bare
        decimal number (point or comma) with a hemisphere letter.
    """

    value: float
    axis: Axis | None
    form: Form


def _quote(value: object) -> str:
    """Return a short, single-line, repr-style quotation of ``value``."""
    try:
        if isinstance(value, np.generic):
            value = value.item()
        text = repr(str.__str__(value)) if isinstance(value, str) else repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not escape
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= _MAX_QUOTE else text[: _MAX_QUOTE - 1] + "\u2026"


def _fail(value: object, reason: str) -> CoordinateParseError:
    """Build an error whose message starts with the quoted original value."""
    return CoordinateParseError(f"{_quote(value)} {reason}")


def _missing(value: object) -> CoordinateParseError:
    """Build the error for an empty or placeholder cell."""
    return CoordinateParseError(
        f"missing value ({_quote(value)}); enter the coordinate (a number such as 104.7612 or "
        "-3.2154, or degrees, minutes and seconds)"
    )


def _diagnose_numberish(body: str, original: object) -> CoordinateParseError:
    """Explain why a string of digits, points and commas was not accepted."""
    if "," in body and "." in body:
        why = "mixes '.' and ',' so the decimal separator is ambiguous"
    elif body.count(",") > 1:
        why = "has more than one comma (thousands separators?), so it is ambiguous"
    elif body.count(".") > 1:
        why = "has more than one decimal point"
    else:
        why = "is not a complete number"
    return _fail(original, f"{why}; {_EXAMPLE}")


def _dms_magnitude(match: re.Match[str], original: object) -> float:
    """Validate the parts of a degrees-minutes-seconds match; return degrees."""
    parts = [p.replace(",", ".") for p in match.group("deg", "min", "sec") if p]
    if any("." in p for p in parts[:-1]):
        raise _fail(original, "has decimals before the last part; write e.g. 3°12.5' S")
    deg, minutes, seconds = (float(p) for p in [*parts, "0", "0"][:3])
    for name, part in (("minutes", minutes), ("seconds", seconds)):
        if part >= _SIXTY:
            raise _fail(original, f"has {name} {part:g}, which must be below 60; {_DMS_EXAMPLE}")
    magnitude = deg + minutes / _SIXTY + seconds / (_SIXTY * _SIXTY)
    if magnitude > _MAX_DEG:
        raise _fail(original, f"is more than 180 degrees; {_DMS_EXAMPLE}")
    return magnitude


def _parse_body(body: str, original: object) -> _Body | None:
    """Parse text without a hemisphere letter; None if it is not recognised."""
    if match := _NUMBER.match(body):
        number = float(match["num"])
        if math.isinf(number):
            raise _fail(original, f"is too large to be a coordinate; {_EXAMPLE}")
        return match["sign"], number, "number"
    if match := _COMMA_NUMBER.match(body):
        return match["sign"], float(match["num"].replace(",", ".")), "decimal_comma"
    if _NUMBERISH.match(body):
        raise _diagnose_numberish(body, original)
    match = _DMS.match(body)
    if match is None or (match["su"] in {"s", "S"} and match["mu"] not in {"m", "M"}):
        return None  # a final "s" outside the 3d12m55s style is the hemisphere S
    return match["sign"], _dms_magnitude(match, original), "dms"


def _apply_hemisphere(parsed: _Body, hemi: str | None, original: object) -> ParsedCoordinate:
    """Combine sign, magnitude and hemisphere letter into the final value."""
    sign, magnitude, form = parsed
    negative = sign == "-" if hemi is None else hemi.upper() in _NEGATIVE_HEMI
    value = (-magnitude if negative else magnitude) or 0.0  # "or": no -0.0 from "0 S"
    if hemi is None:
        return ParsedCoordinate(value, None, form)
    hemi = hemi.upper()
    if (sign == "-" and not negative) or (sign == "+" and negative):
        raise _fail(
            original,
            f"has sign {sign} but hemisphere {hemi}; keep only one, e.g. -3.2154 or 3.2154 S",
        )
    axis: Axis = "lat" if hemi in _LAT_HEMI else "lon"
    limit, name = (_MAX_LAT, "latitude") if axis == "lat" else (_MAX_DEG, "longitude")
    if magnitude > limit:
        raise _fail(
            original,
            f"is more than {limit:g} degrees, too far for a {name} "
            f"({hemi}); check the number and the letter",
        )
    out_form: Form = "dms" if form == "dms" else "hemisphere_decimal"
    return ParsedCoordinate(value, axis, out_form)


def _parse_text(raw: str) -> ParsedCoordinate:
    """Parse one text cell."""
    text = raw.translate(_LOOKALIKES).replace("''", '"').strip()
    if text.lower() in _MISSING:
        raise _missing(raw)
    if _EXCEL_ERROR.fullmatch(text):
        raise _fail(raw, "is a spreadsheet error; fix the formula or type the value")
    if len(text) > _MAX_TEXT:
        raise _fail(raw, f"is too long to be a coordinate; {_EXAMPLE}")
    candidates: list[tuple[str, str | None]] = [(text, None)]
    candidates.extend(
        (m["body"], m["hemi"]) for p in (_LEADING_HEMI, _TRAILING_HEMI) if (m := p.match(text))
    )
    first_error: CoordinateParseError | None = None
    for body, hemi in candidates:
        try:
            parsed = _parse_body(body, raw)
            if parsed is not None:
                return _apply_hemisphere(parsed, hemi, raw)
        except CoordinateParseError as err:
            first_error = first_error or err
    if first_error is not None:
        raise first_error
    raise _fail(raw, f"is not a number or a degrees-minutes-seconds value; {_EXAMPLE}")


def _parse_number(value: numbers.Real | decimal.Decimal) -> ParsedCoordinate:
    """Parse a non-bool number (int, float, numpy scalar, Decimal, Fraction)."""
    if isinstance(value, decimal.Decimal) and value.is_nan():
        raise _missing(value)
    try:
        number = float(value)
    except (ArithmeticError, ValueError, TypeError):
        number = math.inf
    if math.isnan(number):
        raise _missing(value)
    if math.isinf(number):
        raise _fail(value, f"is infinite or too large; {_EXAMPLE}")
    return ParsedCoordinate(number, None, "number")


def parse_coordinate(value: object) -> ParsedCoordinate:
    r"""Parse one spreadsheet cell as a coordinate in decimal degrees.

    Parameters
    ----------
    value : object
        The cell: a number, or text such as ``"-3.2154"``, ``"-3,2154"``,
        ``3°12'55" S``, ``"3 12 55 LS"`` or ``"104.65E"``.

    Returns
    -------
    ParsedCoordinate
        Signed value (south/west negative), axis hint and written form.

    Raises
    ------
    CoordinateParseError
        For missing cells (None, NaN, ``""``, ``"-"``, ``"NA"``, ``"#N/A"``...;
        the message starts with "missing value") and anything that is not a
        coordinate (bool, inf, bytes, lists...).  No other exception escapes.

    Examples
    --------
    >>> parse_coordinate("3°12'55\" LS")
    ParsedCoordinate(value=-3.215277777777778, axis='lat', form='dms')
    >>> parse_coordinate("104,658").value
    104.658
    """
    if value is None or value is pd.NA or value is pd.NaT:
        raise _missing(value)
    if isinstance(value, (bool, np.bool_)):
        raise _fail(value, f"is a true/false value, not a coordinate; {_EXAMPLE}")
    if isinstance(value, str):
        return _parse_text(str.__str__(value))
    if isinstance(value, (numbers.Real, decimal.Decimal)):
        return _parse_number(value)
    if isinstance(value, _TIME_TYPES):
        why = "is a date or time (a spreadsheet may have turned 3:12:55 into a time)"
        raise _fail(value, f"{why}; format the column as text, or {_EXAMPLE}")
    kind = type(value).__name__
    raise _fail(value, f"is of type {kind}, not a number or text; {_EXAMPLE}")


def parse_coordinate_column(
    values: Sequence[object] | pd.Series[Any] | npt.NDArray[Any],
) -> tuple[npt.NDArray[np.float64], list[str | None], list[str | None]]:
    """Parse a whole column of coordinate cells.

    Parameters
    ----------
    values : sequence, pandas.Series or numpy.ndarray
        The cells.  A Series or array of a real numeric dtype (including the
        nullable ``Int64``/``Float64`` dtypes) takes a fast path with no
        per-cell Python parsing; only its missing/infinite rows are explained.

    Returns
    -------
    values : numpy.ndarray of float64
        Parsed values (a new array), NaN where a cell failed.
    errors : list of str or None
        Per row, the :class:`CoordinateParseError` message, or None.
    axes : list of {"lat", "lon"} or None
        Per row, the axis named by a hemisphere letter, or None.
    """
    if isinstance(values, (str, bytes)):
        msg = "values must be a column of cells (list, Series or array), not one string"
        raise TypeError(msg)
    out: npt.NDArray[np.float64]
    if isinstance(values, (pd.Series, np.ndarray)) and _is_real_dtype(values):
        if isinstance(values, pd.Series):
            out = np.array(values.to_numpy(dtype=np.float64, na_value=np.nan), copy=True)
        else:
            out = np.array(values, dtype=np.float64, copy=True)
        rows: list[int] = np.flatnonzero(~np.isfinite(out)).tolist()
        cells: list[object] = [float(out[row]) for row in rows]
    else:
        out, rows, cells = _plain_numbers(values)
    errors: list[str | None] = [None] * len(out)
    axes: list[str | None] = [None] * len(out)
    for row, cell in zip(rows, cells, strict=True):
        try:
            parsed = parse_coordinate(cell)
        except CoordinateParseError as err:
            errors[row], out[row] = str(err), np.nan
        else:
            out[row], axes[row] = parsed.value, parsed.axis
    return out, errors, axes


#: Text that `parse_coordinate` reads as a plain decimal number ("-3.2154", "104",
#: "1e3"): parsed all at once, the rest cell by cell.
_PLAIN = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"


def _plain_numbers(
    values: Sequence[object] | pd.Series[Any] | npt.NDArray[Any],
) -> tuple[npt.NDArray[np.float64], list[int], list[object]]:
    """Parse the plain-number text cells at once; return the values and the other cells.

    Equal to `parse_coordinate` cell by cell (same float, ``-0`` read as 0),
    but a column of ordinary numbers read from a CSV file costs one
    vectorised conversion instead of a regular-expression parse per cell.
    """
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.StringDtype):
        series = values.reset_index(drop=True)  # text held by Arrow: matched and cast at once
        is_text = series.notna().to_numpy(dtype=bool)
    else:
        series = pd.Series(
            list(values) if not isinstance(values, pd.Series) else values.array, dtype=object
        )
        is_text = np.fromiter((type(v) is str for v in series), dtype=bool, count=len(series))
    plain = np.zeros(len(series), dtype=bool)
    if is_text.any():
        text = series[is_text].astype(str)
        plain[is_text] = (
            text.str.fullmatch(_PLAIN).to_numpy(dtype=bool)
            & (text.str.len() <= _MAX_TEXT).to_numpy()
        )
    out = np.full(len(series), np.nan, dtype=np.float64)
    if plain.any():
        with np.errstate(over="ignore"):
            converted = series[plain].astype(float).to_numpy(dtype=float) + 0.0  # -0.0 -> 0.0
        finite = np.isfinite(converted)
        where = np.flatnonzero(plain)
        out[where[finite]] = converted[finite]
        plain[where[~finite]] = False  # too large: the cell-by-cell parser explains
    rows = np.flatnonzero(~plain).tolist()
    cells = series.to_numpy()[rows].tolist() if rows else []
    return out, rows, cells


def _is_real_dtype(values: pd.Series[Any] | npt.NDArray[Any]) -> bool:
    """Return True for int/float dtypes (numpy or nullable), not bool/complex."""
    api = pd.api.types
    return bool(
        api.is_numeric_dtype(values)
        and not api.is_bool_dtype(values)
        and not api.is_complex_dtype(values)
    )
