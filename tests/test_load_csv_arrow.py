"""Arrow's CSV reader gives what pandas' reader gave (or hands the file to it): the same text
columns, the same header, the same refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from churnml.data.load import _read_csv, _read_csv_pandas

WANTED = {"order_id", "account_id", "order_date", "net_amount"}

FILES = {
    "plain": (b"order_id,account_id,order_date,net_amount\nO1,A1,2024-01-05,10.5\nO2,A2,2024-02-01,3\n", "utf-8", ","),
    "byte-order mark": (b"\xef\xbb\xbforder_id,account_id,order_date,net_amount\nO1,A1,2024-01-05,1\n", "utf-8", ","),
    "quotes, NA texts, spaces": (
        b'order_id,account_id,order_date,net_amount,note\n"O1"," A1 ","",NULL,"a, b"\n"O2",NA,N/A,"1,5",x\n'
        b'O3,A3,#N/A,nan,"say ""hi"""\n', "utf-8", ","),
    "a value across lines": (b'order_id,account_id,order_date,net_amount\nO1,A1,2024-01-05,"1\n2"\nO2,A2,,\n', "utf-8", ","),
    "German export": ("Auftrag;Kunde;order_id;account_id;net_amount\nx;Müller;O1;A1;1.234,56\n".encode("cp1252"), "cp1252", ";"),
    "an extra column not UTF-8": ("order_id,account_id,name\nO1,A1,Müller\n".encode("cp1252"), "utf-8", ","),
    "no wanted column": (b"a,b\n1,2\n3,4\n", "utf-8", ","),
    "header only": (b"order_id,account_id,order_date,net_amount\n", "utf-8", ","),
    "CRLF and no final newline": (b"order_id,account_id\r\nO1,A1\r\nO2,A2", "utf-8", ","),
}


def _outcome(read, path: Path, encoding: str, delimiter: str):
    try:
        frame, header = read(path, WANTED, delimiter, encoding)
    except Exception as err:  # noqa: BLE001 - the refusal itself is what is compared
        return type(err).__name__
    return frame.astype("object").where(frame.notna(), None).to_dict("list"), list(frame.columns), len(frame), header


@pytest.mark.parametrize("name", list(FILES))
def test_arrow_reads_a_csv_as_pandas_does(tmp_path: Path, name):
    data, encoding, delimiter = FILES[name]
    path = tmp_path / "orders.csv"
    path.write_bytes(data)
    assert _outcome(_read_csv, path, encoding, delimiter) == _outcome(_read_csv_pandas, path, encoding, delimiter)
