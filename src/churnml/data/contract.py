"""The input contract (see contract.md): what each table holds, and the checks that reject bad input.

`TABLES` describes the seven tables. `validate_tables(tables, today)` turns raw frames (contract
column names, any dtypes, e.g. all text from a CSV) into typed frames and raises one
`ContractError` listing every problem found. `check_tables` does the same without raising, for
callers (the loader) that add problems of their own. `as_seen_at(tables, as_of)` drops what was not
yet known at an as-of date.

Types are parsed tolerantly first (a value that does not parse is a Problem, not a traceback);
the rules on the typed frames are pandera schemas validated lazily, so every rule is checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Collection, Mapping

import numpy as np
import pandas as pd

from churnml.errors import ContractError, Problem
from churnml.parallel import run_all

TEXT, DATE, FLOAT, INT, BOOL = "text", "date", "float", "int", "bool"

# The pandas dtype of each kind in the loader's output (docs/internals.md).
DTYPES: dict[str, str] = {
    TEXT: "str",
    DATE: "datetime64[ns]",
    FLOAT: "float64",
    INT: "Int64",
    BOOL: "boolean",
}

MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Column:
    """One contract column."""

    name: str
    kind: str  # text | date | float | int | bool
    required: bool = False
    # Date columns that may legitimately lie ahead of today (a promised delivery, a contract end).
    future_ok: bool = False
    # The contract's vocabulary of a text column; any other value counts as "other".
    values: tuple[str, ...] = ()
    # Text with few distinct values over many rows (an event's account, a product line, a
    # vocabulary): held as a pandas category, so millions of rows carry small codes, not strings.
    coded: bool = False

    @property
    def dtype(self) -> str:
        """The pandas dtype of this column in the loader's output."""
        return "category" if self.coded else DTYPES[self.kind]


@dataclass(frozen=True)
class Formats:
    """How an export writes numbers and dates (`data.decimal`, `data.thousands`,
    `data.date_format`, each also per table)."""

    decimal: str = "."
    thousands: str | None = None
    date_format: str | None = None  # strftime pattern such as %d.%m.%Y; None: ISO dates


@dataclass(frozen=True)
class Table:
    """One contract table: its columns, unique key, and the date columns that place its rows in time."""

    name: str
    required: bool
    columns: tuple[Column, ...]
    key: str | None = None
    # The date of a row: rows dated on or after a run's as-of are dropped. None: never dropped.
    date: str | None = None
    # Dates that only become known when they happen (a resolution, a delivery, a departure):
    # blanked when on or after the as-of, so the row looks as it did then.
    later_dates: tuple[str, ...] = ()

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def dates(self) -> list[str]:
        return [c.name for c in self.columns if c.kind == DATE]

    @property
    def dtypes(self) -> dict[str, str]:
        return {c.name: c.dtype for c in self.columns}

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _c(name: str, kind: str, required: bool = False, future_ok: bool = False, values: tuple[str, ...] = ()) -> Column:
    return Column(name, kind, required, future_ok, values)


def _code(name: str, required: bool = False, values: tuple[str, ...] = ()) -> Column:
    """A coded text column (see `Column.coded`)."""
    return Column(name, TEXT, required, False, values, coded=True)


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "accounts",
            required=True,
            key="account_id",
            columns=(
                _c("account_id", TEXT, required=True),
                _c("name", TEXT),
                _c("industry", TEXT),
                _c("region", TEXT),
                _c("tier", TEXT),
                _c("account_manager", TEXT),
                _c("since", DATE),
                _c("employees", INT),
                _c("category_spend", FLOAT),
                _c("contract_end", DATE, future_ok=True),
                _c("influence", FLOAT),
            ),
        ),
        Table(
            "orders",
            required=True,
            key="order_id",
            date="order_date",
            later_dates=("delivered_date",),
            columns=(
                _c("order_id", TEXT, required=True),
                _code("account_id", required=True),
                _c("order_date", DATE, required=True),
                _c("net_amount", FLOAT, required=True),
                _code("product_line"),
                _c("quantity", FLOAT),
                _c("list_amount", FLOAT),
                _c("custom", BOOL),
                _c("promised_date", DATE, future_ok=True),
                _c("delivered_date", DATE),
            ),
        ),
        Table(
            "complaints",
            required=False,
            key="complaint_id",
            date="opened_at",
            later_dates=("resolved_at",),
            columns=(
                _c("complaint_id", TEXT, required=True),
                _code("account_id", required=True),
                _c("opened_at", DATE, required=True),
                _c("resolved_at", DATE),
                _code("category", values=("quality", "delivery", "service", "price", "other")),
                _c("severity", INT),
            ),
        ),
        Table(
            "competitor_signals",
            required=False,
            key="signal_id",
            date="observed_at",
            columns=(
                _c("signal_id", TEXT, required=True),
                _code("account_id", required=True),
                _c("observed_at", DATE, required=True),
                _code("competitor"),
                _code("kind", values=("quote", "visit", "trial_order", "tender_lost", "price_cut", "other")),
                _c("price_gap", FLOAT),
            ),
        ),
        Table(
            "interactions",
            required=False,
            date="occurred_at",
            columns=(
                _code("account_id", required=True),
                _c("occurred_at", DATE, required=True),
                _code("kind", required=True, values=(
                    "exec_visit", "sales_visit", "business_review", "training", "joint_development", "other")),
            ),
        ),
        Table(
            "contacts",
            required=False,
            key="contact_id",
            date="start_date",
            later_dates=("end_date",),
            columns=(
                _c("contact_id", TEXT, required=True),
                _code("account_id", required=True),
                _code("role", values=("decision_maker", "buyer", "technical", "other")),
                _c("start_date", DATE),
                # A departure already announced may be dated ahead.
                _c("end_date", DATE, future_ok=True),
            ),
        ),
        Table(
            "outcomes",
            required=False,
            date="lost_at",
            columns=(
                _code("account_id", required=True),
                _c("lost_at", DATE, required=True),
                _code("reason", values=("competitor", "business_decline", "other")),
                _code("competitor"),
            ),
        ),
    )
}

# Value rules beyond types: (table, column) -> (low, high) inclusive, and columns that must be >= 0.
_RANGES: dict[tuple[str, str], tuple[float, float]] = {
    ("accounts", "influence"): (0.0, 1.0),
    ("complaints", "severity"): (1, 3),
}
_NON_NEGATIVE: set[tuple[str, str]] = {("orders", "list_amount"), ("accounts", "category_spend")}

# What a failed pandera check means, in words. Keys are the `error=` of our checks plus
# pandera's own names for nullability and uniqueness.
_MESSAGES: dict[str, str] = {
    "not_nullable": "{n} row(s) have no value, but the column is required",
    "field_uniqueness": "{n} row(s) have a duplicate key (each {column} must appear once)",
    "known_account": "{n} row(s) reference an account_id that is not in accounts",
    "not_future": "{n} row(s) dated later than today ({today}) — a typo such as 2204 for 2024?",
    "non_negative": "{n} row(s) are negative; {column} must be ≥ 0",
    "in_range": "{n} row(s) outside [{low:g}, {high:g}]",
    "resolved_after_opened": "{n} row(s) resolved before they were opened (resolved_at < opened_at)",
}


# --------------------------------------------------------------------------------------------
# Parsing: raw values -> contract dtypes, remembering which non-empty values did not parse.


def _blank(raw: pd.Series) -> pd.Series:
    """True where a raw value is missing or only whitespace."""
    if raw.dtype.kind in "O" or isinstance(raw.dtype, pd.StringDtype):
        text = raw.astype("str").str.strip()
        return raw.isna() | (text == "")
    return raw.isna()


def _to_text(raw: pd.Series, coded: bool = False) -> pd.Series:
    """Values as stripped text, empty ones missing: a category when `coded`, else "str"."""
    if isinstance(raw.dtype, pd.CategoricalDtype):
        # Clean the few categories, not the many rows.
        text = _categories_as_text(raw)
        return text if coded else text.astype("str")
    text = _plain_text(raw)
    return text.astype("category") if coded else text


def _categories_as_text(raw: pd.Series) -> pd.Series:
    """A categorical column with its categories made text as `_plain_text` makes it (those that
    become equal merged, those that become empty missing) and sorted, as `astype("category")`
    sorts them."""
    cleaned = _plain_text(pd.Series(raw.cat.categories, dtype=raw.cat.categories.dtype))
    new_codes, uniques = pd.factorize(cleaned, sort=True)
    lookup = np.append(new_codes, -1).astype(raw.cat.codes.dtype)  # a missing value's code -1 picks the last
    mapped = np.take(lookup, raw.cat.codes.to_numpy())
    categories = pd.Index(np.asarray(uniques, dtype=object), dtype="str")
    coded = pd.Categorical.from_codes(mapped, categories=categories, validate=False)  # in range by construction
    return pd.Series(coded, index=raw.index, name=raw.name)


def _plain_text(raw: pd.Series) -> pd.Series:
    if raw.dtype.kind == "f":
        values = raw.dropna()
        # IDs stored as floats (an integer column with gaps) must read "1001", not "1001.0".
        if len(values) and np.isfinite(values).all() and (values == values.round()).all():
            raw = raw.astype("Int64")
    clean = _clean_text(raw)
    if clean is not None:
        return clean
    text = raw.astype("str").str.strip()
    return text.mask(text == "")


_WHITESPACE = np.zeros(256, dtype=bool)
_WHITESPACE[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True
_WHITESPACE[128:] = True  # the first byte of a longer character (perhaps Unicode whitespace)


def _clean_text(raw: pd.Series) -> pd.Series | None:
    """`raw` as text when it is Arrow text that stripping cannot change (no value starts or ends
    with whitespace, decided on the first and last byte of each value), with empty values
    missing; None when it may need stripping. Same result as strip-then-mask, without
    rewriting 20 million strings."""
    dtype = raw.dtype
    if not (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow" and dtype.na_value is np.nan):
        return None  # other text is made "str" by the general path
    empty = []
    for chunk in _arrow_values(raw).chunks:
        start, length, data = _text_buffers(chunk)
        filled = length > 0
        ends = [data[start[filled]], data[start[filled] + length[filled] - 1]]
        if any(_WHITESPACE[end].any() for end in ends):
            return None
        empty.append(~filled & chunk.is_valid().to_numpy(zero_copy_only=False))
    empty = np.concatenate(empty) if empty else np.zeros(0, dtype=bool)
    return raw.mask(empty) if empty.any() else raw


def _text_buffers(chunk, lengths: bool = True) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """(start, length, bytes) of each value of an Arrow string array, on its own buffers
    (length None when not `lengths`)."""
    import pyarrow as pa

    if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
        chunk = chunk.cast(pa.large_string())  # e.g. all missing: Arrow's null type
    wide = pa.types.is_large_string(chunk.type)
    _, offsets_buffer, data_buffer = chunk.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64 if wide else np.int32, count=len(chunk) + 1,
                            offset=chunk.offset * (8 if wide else 4)).astype(np.int64, copy=False)
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(1, np.uint8)
    return offsets[:-1], np.diff(offsets) if lengths else None, data


_TZ_SUFFIX = re.compile(r"^(.*\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$")
# The same test in the subset of regex that pyarrow runs natively (no \d, \s or groups): fast.
_HAS_TZ = r"[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)? ?(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)$"
_NS_MIN, _NS_MAX = pd.Timestamp.min, pd.Timestamp.max


def _to_dates(raw: pd.Series, date_format: str | None = None, arrow: bool = True) -> tuple[pd.Series, pd.Series]:
    """Dates as tz-naive datetime64[ns], plus a mask of values that do not fit that range.
    Text is ISO (dates or timestamps) unless `date_format` (e.g. %d.%m.%Y) says otherwise.
    `arrow=False` leaves Arrow's fast path out (pandas parses all: the reference)."""
    if raw.dtype == "datetime64[ns]":
        return raw, pd.Series(False, index=raw.index)  # already in range: nanoseconds are the range
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        parsed = raw.dt.tz_localize(None)  # keep the wall-clock date the user wrote
    elif raw.dtype.kind == "M":
        parsed = raw
    else:
        text = raw.astype("str").str.strip()
        fast = _arrow_dates(text) if arrow and not date_format else None
        if fast is not None:
            return fast, pd.Series(False, index=raw.index)
        if date_format:
            # exact=False: a time after the date (31.12.2023 14:05) is allowed and ignored.
            parsed = pd.to_datetime(text, errors="coerce", format=date_format, exact=False)
        else:
            # The pipeline works in calendar months: keep the local date, drop any UTC offset.
            # (Find the few timestamps with an offset first: the replacement is slow per value.)
            with_tz = text.str.contains(_HAS_TZ, regex=True, na=False)
            if with_tz.any():
                text = text.copy()
                text[with_tz] = text[with_tz].str.replace(_TZ_SUFFIX, r"\1", regex=True)
            parsed = pd.to_datetime(text, errors="coerce", format="ISO8601")
    out_of_range = parsed.notna() & ((parsed < _NS_MIN) | (parsed > _NS_MAX))
    parsed = parsed.mask(out_of_range)
    return parsed.astype("datetime64[ns]"), out_of_range


def _to_float(raw: pd.Series, formats: Formats = Formats()) -> pd.Series:
    if raw.dtype.kind in "fiub":
        values = raw.astype("float64")
    else:
        text = raw.astype("str").str.strip()
        if formats.thousands:
            text = text.str.replace(formats.thousands, "", regex=False)
        if formats.decimal != ".":
            text = text.str.replace(formats.decimal, ".", regex=False)
        fast = _arrow_numbers(text)
        values = fast if fast is not None else pd.to_numeric(text, errors="coerce").astype("float64")
    return values.where(np.isfinite(values))


# Plain decimal numbers, which Arrow's and pandas' parsers read alike (RE2 syntax: runs in Arrow).
_PLAIN_NUMBER = r"^-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$"


_ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def _arrow_values(text: pd.Series):
    """The values of a text column as an Arrow large_string chunked array (no copy when they are one)."""
    import pyarrow as pa

    values = pa.array(text.array, from_pandas=True)
    chunked = values if isinstance(values, pa.ChunkedArray) else pa.chunked_array([values])
    return chunked if chunked.type == pa.large_string() else chunked.cast(pa.large_string())


def _arrow_numbers(text: pd.Series) -> pd.Series | None:
    """`text` as float64 when every value is a plain decimal number (parsed in Arrow, tens of
    times faster than pandas on text); None otherwise, for pandas to parse and report."""
    import pyarrow.compute as pc

    if not isinstance(text.dtype, pd.StringDtype):
        return None
    values = _arrow_values(text)
    if not pc.all(pc.fill_null(pc.match_substring_regex(values, _PLAIN_NUMBER), True)).as_py():
        return None
    numbers = pc.cast(values, "float64").to_numpy(zero_copy_only=False)
    if ((numbers == 0) & np.signbit(numbers)).any() and not pc.any(pc.match_substring_regex(values, "[.eE]")).as_py():
        # pandas reads whole numbers with no gap as integers (-0 is 0), else as floats (-0.0)
        if pc.any(pc.greater_equal(pc.utf8_length(values), 19)).as_py():
            return None  # near the integers' limits: pandas decides
        if values.null_count == 0:
            numbers = numbers + 0.0
    return pd.Series(numbers, index=text.index, dtype="float64")


def _arrow_dates(text: pd.Series) -> pd.Series | None:
    """`text` as datetime64[ns] when every value is an ISO date (YYYY-MM-DD) that exists
    (Arrow's cast checks the calendar and the range); None otherwise, for pandas to parse, with
    its leniency (timestamps, offsets) and its reports."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not isinstance(text.dtype, pd.StringDtype):
        return None
    values = _arrow_values(text)
    if not pc.all(pc.fill_null(pc.match_substring_regex(values, _ISO_DATE), True)).as_py():
        return None
    try:
        parsed = pc.cast(values, pa.timestamp("ns"))
    except pa.ArrowInvalid:  # a day that does not exist, or outside the years 1677-2262
        return None
    return pd.Series(parsed.to_numpy(zero_copy_only=False), index=text.index).astype("datetime64[ns]")


_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}


def _to_bool(raw: pd.Series) -> pd.Series:
    if raw.dtype.kind == "b" or isinstance(raw.dtype, pd.BooleanDtype):
        return raw.astype("boolean")
    text = raw.astype("str").str.strip().str.lower()
    out = pd.Series(pd.NA, index=raw.index, dtype="boolean")
    out[text.isin(_TRUE)] = True
    out[text.isin(_FALSE)] = False
    return out


def _parse(column: Column, raw: pd.Series, formats: Formats = Formats()) -> tuple[pd.Series, pd.Series, str]:
    """Parse one column; returns (typed values, mask of non-empty values that failed, hint)."""
    if column.kind == TEXT:
        return _to_text(raw, column.coded), pd.Series(False, index=raw.index), ""
    hint = ""
    if column.kind == DATE:
        typed, out_of_range = _to_dates(raw, formats.date_format)
        if out_of_range.any():
            hint = " (some are outside the years 1677–2262: a typo?)"
        elif formats.date_format:
            hint = f" (expected dates as {formats.date_format}, from data.date_format)"
        else:
            hint = " (expected ISO dates YYYY-MM-DD or timestamps)"
    elif column.kind == FLOAT:
        typed = _to_float(raw, formats)
        hint = " (expected numbers with a decimal point)" if formats.decimal == "." else (
            f" (expected numbers with the decimal mark {formats.decimal!r})")
    elif column.kind == INT:
        values = _to_float(raw, formats)
        whole = values.isna() | (values == values.round())
        typed = values.where(whole).astype("Int64")
        hint = " (expected whole numbers)"
    elif column.kind == BOOL:
        typed = _to_bool(raw)
        hint = " (expected true/false, yes/no or 1/0)"
    else:  # pragma: no cover - TABLES only uses the kinds above
        raise ValueError(f"column kind must be one of {list(DTYPES)}; got {column.kind!r}")
    failed = typed.isna() & ~_blank(raw)
    # Look for an export's own formats among the failed values only (not on every load).
    if failed.any():
        bad = raw[failed].astype("str").str.strip()
        if column.kind == FLOAT and formats.decimal == "." and bad.str.fullmatch(r"-?[\d.]*\d,\d+").any():
            hint = (" (expected numbers with a decimal point; values like '1.234,56' look like a decimal comma: "
                    "set \"data.decimal=','\" and \"data.thousands='.'\")")
        elif column.kind == DATE and not formats.date_format and bad.str.fullmatch(r"\d{1,2}\.\d{1,2}\.\d{4}.*").any():
            hint = (
                " (expected ISO dates YYYY-MM-DD; values like '31.12.2023' are day.month.year: "
                "set \"data.date_format='%d.%m.%Y'\")"
            )
        elif column.kind == DATE and not formats.date_format and bad.str.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}.*").any():
            hint = (
                " (expected ISO dates YYYY-MM-DD; values like '12/31/2023' need data.date_format, "
                "e.g. '%m/%d/%Y' or '%d/%m/%Y')"
            )
    return typed, failed, hint


def frame_of(columns: Mapping[str, pd.Series], index: pd.Index) -> pd.DataFrame:
    """A frame of these columns (all on `index`) that keeps each column's own array: building
    it from a dict would copy same-typed columns into one block, seconds for 20 million rows."""
    if not columns:
        return pd.DataFrame(index=index)
    return pd.concat(columns, axis=1)


@dataclass
class Conformed:
    """One table brought to the contract: typed values, the raw values they came from (for
    examples), the values that did not parse (by column) and the problems found so far."""

    typed: pd.DataFrame
    raw: pd.DataFrame
    unparsed: dict[str, pd.Series]
    problems: list[Problem]


def conform(table: str, frame: pd.DataFrame, formats: Formats = Formats()) -> Conformed:
    """Bring one table to the contract's columns and dtypes.

    Extra columns are dropped, absent optional columns added as all-missing, values that do not
    parse reported and set missing. A missing required column is reported and added as all-missing.
    """
    spec = TABLES[table]
    frame = frame.reset_index(drop=True)
    problems: list[Problem] = []
    raw_cols: dict[str, pd.Series] = {}
    typed_cols: dict[str, pd.Series] = {}
    unparsed: dict[str, pd.Series] = {}

    present = [c for c in spec.columns if c.name in frame.columns]
    # the same header twice gives a frame: its first column is read
    raws = {c.name: frame[c.name] for c in present}
    raws = {name: raw.iloc[:, 0] if isinstance(raw, pd.DataFrame) else raw for name, raw in raws.items()}
    # each column parses on its own: side by side, then reported in the contract's order
    parsed = dict(zip(raws, run_all(*(lambda c=c: _parse(c, raws[c.name], formats) for c in present))))
    for column in spec.columns:
        if column.name not in frame.columns:
            if column.required:
                problems.append(Problem(table, column.name, "required column is missing"))
            typed_cols[column.name] = _all_missing(column, frame.index)
            raw_cols[column.name] = pd.Series(np.nan, index=frame.index, dtype="object")
            continue
        if isinstance(frame[column.name], pd.DataFrame):
            problems.append(Problem(table, column.name, "the column appears more than once"))
        raw = raws[column.name]
        typed, failed, hint = parsed[column.name]
        raw_cols[column.name] = raw
        typed_cols[column.name] = typed
        unparsed[column.name] = failed
        if failed.any():
            word = {DATE: "dates", FLOAT: "numbers", INT: "whole numbers", BOOL: "true/false"}
            problems.append(
                Problem(
                    table,
                    column.name,
                    f"{int(failed.sum())} value(s) are not {word[column.kind]}{hint}",
                    _examples(pd.DataFrame(raw_cols | {column.name: raw}), spec, column.name, failed),
                )
            )
    return Conformed(
        typed=frame_of(typed_cols, frame.index),
        raw=frame_of(raw_cols, frame.index),
        unparsed=unparsed,
        problems=problems,
    )


def coded_as_categories(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with the coded text columns of `table` (`Column.coded`) held as categories, as
    the loader gives them."""
    coded = [c.name for c in TABLES[table].columns if c.coded and c.name in frame
             and not isinstance(frame[c.name].dtype, pd.CategoricalDtype)]
    return frame.astype(dict.fromkeys(coded, "category")) if coded else frame


def _all_missing(column: Column, index: pd.Index) -> pd.Series:
    """A column of no values, in the column's dtype."""
    if column.coded:
        empty = pd.Categorical.from_codes(np.full(len(index), -1), categories=pd.Index([], dtype="str"))
        return pd.Series(empty, index=index)
    return pd.Series(pd.NA if column.kind in (INT, BOOL) else np.nan, index=index, dtype=column.dtype)


def _examples(
    raw: pd.DataFrame, spec: Table, column: str | None, rows: pd.Series | pd.Index, extra: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Up to MAX_EXAMPLES offending rows as the user wrote them: row number, key, account, column."""
    index = raw.index[rows.to_numpy()] if isinstance(rows, pd.Series) else pd.Index(rows)
    index = index[:MAX_EXAMPLES]
    wanted = [spec.key, "account_id", *extra, column]
    cols = list(dict.fromkeys(c for c in wanted if c and c in raw.columns))
    out = raw.loc[index, cols].copy()
    out.insert(0, "row", index + 1)  # 1 = the first data row
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Rules on typed frames, as pandera schemas.


def all_distinct(values: pd.Series) -> bool:
    """True when no two of these text values are equal (a missing value equals another), as
    `not values.duplicated().any()`, without a hash table of the strings (ten seconds for 20
    million ids): ids of one width up to 16 bytes are compared as the integers their bytes
    make; others on 64-bit hashes of their bytes, with only the values whose hashes clash
    compared exactly."""
    if len(values) < 2:
        return True
    chunks = _arrow_values(values).chunks
    words = _fixed_width_words(chunks)
    if words is not None:
        key = words[:, 0] if words.shape[1] == 1 else (words[:, 0] * _FNV_PRIME) ^ words[:, 1]
        ordered = np.sort(key)
        clashes = ordered[1:][ordered[1:] == ordered[:-1]]
        if not len(clashes) or words.shape[1] == 1:  # one word is the value itself
            return not len(clashes)
        return not pd.DataFrame(words[np.isin(key, clashes)]).duplicated().any()
    hashes = np.concatenate([_text_hashes(chunk) for chunk in chunks])
    ordered = np.sort(hashes)
    clashes = ordered[1:][ordered[1:] == ordered[:-1]]
    if not len(clashes):
        return True
    return not values[np.isin(hashes, clashes)].duplicated().any()


def _fixed_width_words(chunks) -> np.ndarray | None:
    """The bytes of each value as one or two 64-bit words (zero-padded), when every value is
    present and of the same width (most exports' ids), leaving out the byte positions where
    every value has the same byte (a prefix such as "ORD-00"), when at most 16 bytes remain;
    None otherwise. Equal words, equal values."""
    import pyarrow.compute as pc

    width, parts = None, []
    for chunk in chunks:
        if chunk.null_count:
            return None
        if not len(chunk):
            continue
        lengths = pc.min_max(pc.binary_length(chunk)).as_py()
        if lengths["min"] != lengths["max"] or (width is not None and lengths["min"] != width):
            return None
        width = lengths["min"]
        if width == 0:  # every value empty: the general path says whether that repeats
            return None
        start, _, data = _text_buffers(chunk, lengths=False)
        # equal widths: the values lie one after another in the data buffer
        parts.append(data[start[0] : start[0] + len(chunk) * width].reshape(-1, width))
    if not width:
        return None
    values = np.concatenate(parts) if len(parts) > 1 else parts[0]
    varying = [j for j in range(width) if not (values[:, j] == values[0, j]).all()]
    if len(varying) > 16:
        return None
    n_words = 1 if len(varying) <= 8 else 2
    padded = np.zeros((len(values), 8 * n_words), dtype=np.uint8)
    for k, j in enumerate(varying):  # byte by byte: a 2-D fancy copy is several times slower
        padded[:, k] = values[:, j]
    return padded.view(np.uint64)


_FNV_OFFSET, _FNV_PRIME = np.uint64(1469598103934665603), np.uint64(1099511628211)


def text_hashes(values: pd.Series) -> np.ndarray:
    """A 64-bit hash of each value as the contract reads it as text (equal texts, equal
    hashes; a missing value hashes as the empty text)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        # the categories' hashes, picked by code: the few texts hashed, not the many rows
        text = _categories_as_text(values)
        table = np.append(text_hashes(pd.Series(text.cat.categories, dtype="str")), text_hashes(pd.Series([""])))
        return np.take(table, text.cat.codes.to_numpy())  # code -1 (missing) picks the last
    text = _to_text(values)
    return np.concatenate([_text_hashes(chunk) for chunk in _arrow_values(text).chunks]) if len(text) else \
        np.zeros(0, dtype=np.uint64)


def _text_hashes(chunk) -> np.ndarray:
    """FNV-1a hashes of an Arrow string array's values, one byte position at a time over the
    rows that long (longest first: the work is the number of bytes, however long the longest)."""
    start, length, data = _text_buffers(chunk)
    hashes = np.full(len(chunk), _FNV_OFFSET)
    longest_first = np.argsort(-length, kind="stable")
    longer_than = np.cumsum(np.bincount(length, minlength=int(length.max(initial=0)) + 1)[::-1])[::-1]
    with np.errstate(over="ignore"):  # the hash wraps around by design
        for j in range(int(length.max(initial=0))):
            rows = longest_first[: longer_than[j + 1]]
            hashes[rows] = (hashes[rows] ^ data[start[rows] + j]) * _FNV_PRIME
        return hashes ^ (length.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))


def table_schema(
    table: str,
    today: date | None = None,
    account_ids: Collection[str] | None = None,
    columns: Collection[str] | None = None,
    key_unique: bool = False,
):
    """The pandera schema of one table (typed frame, as `conform` returns it).

    `today` adds the no-dates-in-the-future rule, `account_ids` the known-account rule (not for
    `accounts` itself); `columns` limits the schema to the columns the user actually has;
    `key_unique` (the key is already known to be unique) leaves out the key's uniqueness rule.
    """
    import pandera.pandas as pa

    spec = TABLES[table]
    present = set(spec.names if columns is None else columns)
    cutoff = pd.Timestamp(today) + pd.Timedelta(days=1) if today is not None else None
    known = pd.Index(list(account_ids)) if account_ids is not None else None

    cols = {}
    for column in spec.columns:
        if column.name not in present:
            continue
        checks = []
        if column.kind == DATE and cutoff is not None and not column.future_ok:
            checks.append(pa.Check(lambda s: s < cutoff, error="not_future"))
        if (table, column.name) in _NON_NEGATIVE:
            checks.append(pa.Check(lambda s: s >= 0, error="non_negative"))
        if (table, column.name) in _RANGES:
            low, high = _RANGES[(table, column.name)]
            checks.append(pa.Check(lambda s, lo=low, hi=high: (s >= lo) & (s <= hi), error="in_range"))
        if column.name == "account_id" and table != "accounts" and known is not None:
            checks.append(pa.Check(lambda s: s.isin(known), error="known_account"))
        cols[column.name] = pa.Column(
            column.dtype,
            checks=checks,
            nullable=not column.required,
            unique=column.name == spec.key and not key_unique,
            coerce=False,
        )

    frame_checks = []
    if table == "complaints" and {"opened_at", "resolved_at"} <= present:
        frame_checks.append(
            pa.Check(lambda d: ~(d["resolved_at"] < d["opened_at"]), error="resolved_after_opened")
        )
    return pa.DataFrameSchema(cols, checks=frame_checks, name=table)


def rules_hold(
    table: str,
    typed: pd.DataFrame,
    today: date | None = None,
    account_ids: Collection[str] | None = None,
    columns: Collection[str] | None = None,
    key_unique: bool | None = None,
) -> bool:
    """Whether `typed` keeps every rule of `table_schema(table, today, account_ids, columns)`,
    found with plain vectorised comparisons: when it does (nearly always), the schema need not
    run; when not, the schema finds the rows and words the problems. `key_unique`: whether the
    key is unique, when the caller knows it already (else found here)."""
    spec = TABLES[table]
    present = set(spec.names if columns is None else columns)
    cutoff = pd.Timestamp(today) + pd.Timedelta(days=1) if today is not None else None
    for column in spec.columns:
        if column.name not in present:
            continue
        values = typed[column.name]
        if str(values.dtype) != column.dtype:  # any category is "category"
            return False
        missing = values.isna()
        if column.required and missing.any():
            return False
        if column.name == spec.key and not (all_distinct(values) if key_unique is None else key_unique):
            return False
        if column.kind == DATE and cutoff is not None and not column.future_ok and (values >= cutoff).any():
            return False
        if (table, column.name) in _NON_NEGATIVE and (values < 0).any():
            return False
        if (table, column.name) in _RANGES:
            low, high = _RANGES[(table, column.name)]
            if ((values < low) | (values > high)).fillna(False).any():
                return False
        if column.name == "account_id" and table != "accounts" and account_ids is not None:
            if not values[~missing].isin(pd.Index(list(account_ids))).all():
                return False
    if table == "complaints" and {"opened_at", "resolved_at"} <= present:
        if (typed["resolved_at"] < typed["opened_at"]).any():
            return False
    return True


def _rule_problems(
    table: str,
    typed: pd.DataFrame,
    raw: pd.DataFrame,
    schema,
    today: date | None,
    unparsed: Mapping[str, pd.Series],
) -> list[Problem]:
    """Validate lazily and turn pandera's failure cases into Problems with example rows."""
    import pandera.pandas as pa

    try:
        schema.validate(typed, lazy=True, inplace=True)
        return []
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
    spec = TABLES[table]
    problems = []
    frame_level = cases["schema_context"] == "DataFrameSchema"
    # A frame-wide check fails once per column; report it once, on the column it is about.
    cases.loc[frame_level & (cases["check"] == "resolved_after_opened"), "column"] = "resolved_at"
    cases = cases.drop_duplicates(["column", "check", "index"])
    for (column, check), group in cases.groupby(["column", "check"], sort=False, dropna=False):
        index = pd.Index(group["index"].dropna().astype("int64").unique())
        if check == "not_nullable" and column in unparsed:
            # A value that did not parse is already reported as such.
            index = index.difference(raw.index[unparsed[column].to_numpy()])
            if index.empty:
                continue
        key = str(check)
        low, high = _RANGES.get((table, str(column)), (None, None))
        day = f"{pd.Timestamp(today):%Y-%m-%d}" if today is not None else ""
        if key in _MESSAGES:
            text = _MESSAGES[key].format(n=len(index), column=column, today=day, low=low, high=high)
        else:  # a pandera check we did not word ourselves
            text = f"{len(index)} row(s) fail the check {key}"
        extra = ("opened_at",) if key == "resolved_after_opened" else ()
        examples = _examples(raw, spec, str(column), index, extra) if len(index) else None
        problems.append(Problem(table, str(column), text, examples))
    return problems


# --------------------------------------------------------------------------------------------
# The whole input.


def check_tables(
    tables: Mapping[str, pd.DataFrame],
    today: date,
    already_reported: Collection[tuple[str, str | None]] = (),
    formats: Mapping[str, Formats] | None = None,
) -> tuple[dict[str, pd.DataFrame], list[Problem]]:
    """Conform and check every table; returns (typed tables, every problem found).

    Tables not in the contract are ignored; `formats` says how each table's text writes
    numbers and dates (default: a decimal point, ISO dates). `already_reported` holds (table, None) for tables
    and (table, column) for columns whose absence the caller has reported already (e.g. a file
    that could not be read), so they are not reported twice.
    """
    problems: list[Problem] = []
    conformed: dict[str, Conformed] = {}
    for name, spec in TABLES.items():
        if name not in tables:
            if spec.required and (name, None) not in already_reported:
                problems.append(Problem(name, None, "required table is missing"))
            continue
        conformed[name] = done = conform(name, tables[name], (formats or {}).get(name, Formats()))
        problems += [p for p in done.problems if (p.table, p.column) not in already_reported]
        if spec.required and len(done.typed) == 0:
            problems.append(Problem(name, None, "the table has no rows"))

    account_ids = None
    if "accounts" in conformed and "account_id" in conformed["accounts"].unparsed:
        account_ids = conformed["accounts"].typed["account_id"].dropna().unique()
    for name, done in conformed.items():
        known = account_ids if name != "accounts" else None
        columns = list(done.unparsed)  # the columns the user has
        key = TABLES[name].key
        # Duplicate keys are rare: the schema looks for them (and words them) only when the
        # fast check finds some. The key (the slowest check) and the other rules side by side.
        key_unique, others_hold = run_all(
            partial(_key_unique, done, key), partial(rules_hold, name, done.typed, today, known, columns, key_unique=True)
        )
        if others_hold and key_unique:
            continue
        schema = table_schema(name, today=today, account_ids=known, columns=columns, key_unique=key_unique)
        problems += _rule_problems(name, done.typed, done.raw, schema, today, done.unparsed)

    order = {name: i for i, name in enumerate(TABLES)}

    def position(p: Problem) -> tuple[int, int]:
        names = TABLES[p.table].names if p.table in TABLES else []
        return order.get(p.table, len(order)), names.index(p.column) if p.column in names else -1

    typed = {name: done.typed for name, done in conformed.items()}
    return typed, sorted(problems, key=position)


def _key_unique(done: Conformed, key: str | None) -> bool:
    """Whether the table's key, when the user has it, holds no value twice."""
    return key not in done.unparsed or all_distinct(done.typed[key])


def validate_tables(tables: Mapping[str, pd.DataFrame], today: date) -> dict[str, pd.DataFrame]:
    """Typed tables (contract columns and dtypes) when the input keeps the contract.

    Raises one `ContractError` listing every problem: missing tables or columns, values that do
    not parse, duplicate keys, unknown accounts, future dates, out-of-range values, resolutions
    before openings, an empty orders table.
    """
    typed, problems = check_tables(tables, today)
    if problems:
        raise ContractError(problems)
    return typed


def unknown_values(tables: Mapping[str, pd.DataFrame], top: int = 5) -> list[Problem]:
    """Values of the vocabulary columns (complaint category, signal kind, interaction kind,
    contact role, loss reason) that the contract does not know: they count as "other". One
    Problem per column, naming the most frequent of them with their counts (a warning, not an
    error: the data still loads)."""
    out = []
    for name, frame in tables.items():
        for column in TABLES[name].columns if name in TABLES else ():
            if not column.values or column.name not in frame:
                continue
            text = frame[column.name].dropna().astype("str").str.strip().str.lower()
            unknown = text[~text.isin(column.values)]
            if unknown.empty:
                continue
            counts = frame.loc[unknown.index, column.name].astype("str").str.strip().value_counts()
            shown = ", ".join(f"{v!r} ({n:,})" for v, n in counts.head(top).items())
            more = f" and {len(counts) - top} more" if len(counts) > top else ""
            out.append(Problem(
                name, column.name,
                f"{len(unknown):,} row(s) carry {len(counts)} value(s) the contract does not know, counted as "
                f"'other': {shown}{more}. Known: {', '.join(column.values)}. Map yours with "
                f"data.tables.{name}.values.{column.name}",
            ))
    return out


def as_seen_at(tables: Mapping[str, pd.DataFrame], as_of: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """The typed tables as they were known just before `as_of`.

    Rows dated on or after it are dropped; dates that only become known when they happen
    (resolution, delivery, departure) are blanked when on or after it. Accounts are kept.
    """
    as_of = pd.Timestamp(as_of)
    out = {}
    for name, frame in tables.items():
        spec = TABLES[name]
        if spec.date is not None:
            dated = frame[spec.date]
            frame = frame.loc[~(dated >= as_of)].reset_index(drop=True)
        if spec.later_dates:
            frame = frame.copy()
            for column in spec.later_dates:
                if column in frame:  # a summary of a table (monthly order totals) may lack it
                    frame[column] = frame[column].mask(frame[column] >= as_of)
        out[name] = frame
    return out
