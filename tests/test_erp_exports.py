"""Exports as ERPs write them: `;`, `1.234,56`, `31.12.2023`, latin-1, a byte-order mark, the
user's own column names and vocabulary. Each with a real file written in that format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churnml.config import DataConfig, TableSource
from churnml.data.load import load_tables
from churnml.errors import ConfigError, ContractError
from helpers.contract_frames import TODAY, find, tiny_tables

# The German ERP's names for the contract's columns.
GERMAN = {
    "accounts": {"account_id": "Kundennr", "name": "Kundenname"},
    "orders": {"order_id": "Belegnr", "account_id": "Kundennr", "order_date": "Belegdatum", "net_amount": "Nettobetrag",
               "list_amount": "Listenpreis", "promised_date": "Wunschtermin", "delivered_date": "Liefertermin"},
}


def german_number(x) -> str:
    """1234.5 -> '1.234,50' (as the export writes it)."""
    if pd.isna(x):
        return ""
    whole, cents = f"{abs(x):,.2f}".split(".")
    return ("-" if x < 0 else "") + whole.replace(",", ".") + "," + cents


def write_german(folder: Path, encoding: str = "latin-1", tables=("accounts", "orders")) -> Path:
    """accounts and orders as a German ERP writes them: ';', decimal comma, dd.mm.yyyy, latin-1."""
    folder.mkdir(parents=True, exist_ok=True)
    typed = tiny_tables()
    typed["accounts"].loc[0, "name"] = "Müller Stahlbau GmbH"  # a character latin-1 writes as one byte
    for name in tables:
        frame = typed[name].copy()
        for column in frame.columns:
            if frame[column].dtype.kind == "M":
                frame[column] = frame[column].dt.strftime("%d.%m.%Y").fillna("")
            elif frame[column].dtype.kind == "f":
                frame[column] = frame[column].map(german_number)
        frame = frame.rename(columns=GERMAN.get(name, {}))
        frame.to_csv(folder / f"{name}.csv", sep=";", index=False, encoding=encoding)
    return folder


def german_config(folder: Path, **more) -> DataConfig:
    settings = dict(delimiter=";", decimal=",", thousands=".", date_format="%d.%m.%Y", encoding="latin-1")
    settings.update(more)
    return DataConfig(source="files", dir=str(folder), format="csv",
                      tables={t: TableSource(columns=c) for t, c in GERMAN.items()}, **settings)


def test_a_german_erp_export_reads_exactly_like_the_typed_tables(tmp_path):
    folder = write_german(tmp_path / "erp")
    got = load_tables(german_config(folder), today=TODAY)
    want = tiny_tables()
    pd.testing.assert_series_equal(got["orders"]["net_amount"], want["orders"]["net_amount"], check_names=False)
    pd.testing.assert_series_equal(got["orders"]["order_date"], want["orders"]["order_date"], check_names=False)
    pd.testing.assert_series_equal(got["orders"]["delivered_date"], want["orders"]["delivered_date"], check_names=False)
    assert got["accounts"].loc[0, "name"] == "Müller Stahlbau GmbH"
    np.testing.assert_allclose(got["accounts"]["category_spend"], want["accounts"]["category_spend"])


def test_without_the_settings_the_errors_say_which_setting_and_name_the_users_column_and_line(tmp_path):
    folder = write_german(tmp_path / "erp", encoding="utf-8")
    config = german_config(folder, decimal=".", thousands=None, date_format=None, encoding="utf-8")
    with pytest.raises(ContractError) as caught:
        load_tables(config, today=TODAY)
    problems = caught.value.problems
    dates = find(problems, "orders", "order_date", "not dates")
    assert "data.date_format='%d.%m.%Y'" in dates.problem
    amounts = find(problems, "orders", "net_amount", "not numbers")
    assert "\"data.decimal=','\"" in amounts.problem
    text = caught.value.render()
    assert "orders.order_date (Belegdatum)" in text and "orders.net_amount (Nettobetrag)" in text
    # Example rows show the user's columns and the line in the file (the header is line 1).
    assert list(dates.examples.columns[:2]) == ["line", "Belegnr"] and "Belegdatum" in dates.examples
    assert dates.examples["line"].iloc[0] == 2
    first_line = (folder / "orders.csv").read_text().splitlines()[1]
    assert first_line.startswith(dates.examples["Belegnr"].iloc[0])


def test_a_wrong_encoding_names_the_file_the_line_and_an_encoding_that_reads_it(tmp_path):
    folder = write_german(tmp_path / "erp")  # latin-1 on disk
    with pytest.raises(ContractError) as caught:
        load_tables(german_config(folder, encoding="utf-8"), today=TODAY)
    problem = find(caught.value.problems, "accounts", None, "not UTF-8 text")
    assert "accounts.csv" in problem.problem and "line 2 " in problem.problem
    assert "set data.encoding=cp1252" in problem.problem


def test_a_byte_order_mark_is_accepted(tmp_path):
    folder = write_german(tmp_path / "erp", encoding="utf-8-sig")
    got = load_tables(german_config(folder, encoding="utf-8"), today=TODAY)
    assert list(got["accounts"]["account_id"]) == ["A1", "A2", "A3", "A4"]


def test_settings_per_table_override_the_data_wide_ones(tmp_path):
    folder = write_german(tmp_path / "erp", tables=("orders",))
    tiny_tables()["accounts"].to_csv(folder / "accounts.csv", index=False, date_format="%Y-%m-%d")
    orders = dict(columns=GERMAN["orders"], delimiter=";", decimal=",", thousands=".", date_format="%d.%m.%Y",
                  encoding="latin-1")
    config = DataConfig(source="files", dir=str(folder), format="csv",
                        tables={"orders": TableSource(**orders)})
    got = load_tables(config, today=TODAY)
    assert got["orders"]["net_amount"].sum() == pytest.approx(tiny_tables()["orders"]["net_amount"].sum())
    assert got["accounts"]["since"].notna().sum() == 3


def test_bad_export_settings_are_config_errors():
    for kwargs, words in (
        ({"decimal": ",,"}, "`data.decimal` must be a single character"),
        ({"decimal": ",", "thousands": ","}, "`data.thousands` must differ from the decimal mark"),
        ({"encoding": "klingon"}, "`data.encoding` must be a text encoding"),
        ({"tables": {"orders": TableSource(delimiter="||")}}, "`data.tables.orders.delimiter` must be a single"),
        ({"tables": {"orders": TableSource(values={"net_amount": {"a": "b"}})}},
         "`data.tables.orders.values.net_amount` must name a vocabulary column"),
    ):
        with pytest.raises(ConfigError, match=words):
            load_tables(DataConfig(source="files", dir="/nonexistent", **kwargs), today=TODAY)


def test_the_users_vocabulary_is_mapped_and_what_is_not_is_reported(tmp_path, caplog):
    from helpers.contract_frames import write_tables

    tables = tiny_tables()
    tables["complaints"]["category"] = ["Reklamation Qualität", "Lieferverzug", "Sonstiges"]
    tables["interactions"]["kind"] = ["Besuch GF", "Jahresgespräch", "Besuch GF"]
    folder = write_tables(tables, tmp_path / "crm", "csv")
    values = {
        "complaints": TableSource(values={"category": {"Reklamation Qualität": "quality", "Lieferverzug": "delivery"}}),
        "interactions": TableSource(values={"kind": {"Besuch GF": "exec_visit"}}),
    }
    with caplog.at_level("WARNING"):
        got = load_tables(DataConfig(source="files", dir=str(folder), format="csv", tables=values), today=TODAY)
    assert list(got["complaints"]["category"]) == ["quality", "delivery", "Sonstiges"]
    assert list(got["interactions"]["kind"]) == ["exec_visit", "Jahresgespräch", "exec_visit"]
    # Never silently dropped: counted, named, and treated as 'other'.
    assert "complaints.category: 1 row(s) carry 1 value(s) the contract does not know" in caplog.text
    assert "'Sonstiges' (1)" in caplog.text and "'Jahresgespräch' (1)" in caplog.text
    from churnml.config import FeaturesConfig, LabelsConfig
    from churnml.features import build_features

    frame = build_features(got, FeaturesConfig(), LabelsConfig())
    assert frame["complaints_other_12m"].max() == 1.0


def test_the_documented_overrides_work_in_hydras_grammar():
    from churnml.cli import compose_config

    config = compose_config(["data=files", "data.dir=/srv/exports/erp", "data.delimiter=';'", "data.decimal=','",
                             "data.thousands='.'", "data.date_format='%d.%m.%Y'", "data.encoding=latin-1"])
    data = config.data
    assert (data.delimiter, data.decimal, data.thousands, data.date_format, data.encoding) == (
        ";", ",", ".", "%d.%m.%Y", "latin-1")
    assert data.name == "erp"
