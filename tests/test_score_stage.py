"""`churnml score` end to end on a small synthetic world with a real (quickly trained) model:
the four files, reproducibility, month-over-month changes, privacy and exit codes. Months are
scored in-process with `score_month` (untracked, fast); the tracked CLI runs are in
test_score_cli.py (slow)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from churnml.cli import main
from churnml.scoring.reasons import REASON_SEP
from churnml.scoring.risk_list import RISK_LIST_COLUMNS
from helpers.score_fixtures import ranked_band_first

TODAY = "2025-07-15"
SECRET_NAME = "Zorblax Quintavius"
SECRET_MAIL = "secret-mail.example"
SECRET_PHONE = "+99 555 0199"
FILES = ["risk_list.parquet", "risk_list.csv", "risk_list.xlsx", "report.html"]


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """A project root with a small world (contacts carrying planted personal details that the
    contract forbids) and a churn and switching model exported to models/."""
    from churnml import io, tracking
    from churnml.catalog import load_model_inputs
    from churnml.data.synthetic import generate_world
    from churnml.models.training import (
        build_churn_model,
        build_switching_model,
        input_example,
        switching_example,
        train_models,
    )

    root = tmp_path_factory.mktemp("scoreroot")
    world = generate_world(accounts=100, months=28, seed=3, today=TODAY)
    contacts = world.tables["contacts"]
    contacts["full_name"] = [f"{SECRET_NAME} {i}" for i in range(len(contacts))]
    contacts["email"] = [f"person{i}@{SECRET_MAIL}" for i in range(len(contacts))]
    contacts["phone"] = SECRET_PHONE
    io.write_tables(world.tables, root / "data" / "raw", "parquet", truth=world.truth)

    config = compose(root, ["model.churn.n_estimators=60", "model.switching.n_estimators=40"])
    inputs = load_model_inputs(config)
    result = train_models(inputs.frame, inputs.features, config.model, inputs.horizon, inputs.offers)
    tracking.export_model(
        build_churn_model(result, config.model, inputs.families, {}), input_example(result), root / "models" / "churn"
    )
    switching = build_switching_model(result)
    if switching is not None:
        tracking.export_model(switching, switching_example(result), root / "models" / "switching")
    return root


def compose(root: Path, overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from churnml.cli import conf_dir, register_configs, to_config

    register_configs()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = hydra_compose("config", overrides=[f"paths.root={root}", f"today={TODAY}", *overrides])
    return to_config(cfg)


def score(root: Path, *overrides: str) -> int:
    """`churnml score` through the CLI; returns the exit code."""
    return main(["score", f"paths.root={root}", f"today={TODAY}", "score.model_uri=models/churn", *overrides])


def run_month(root: Path, *overrides: str):
    """`score_month` in-process without tracking; returns the ScoreResult."""
    from churnml.stages.score import score_month

    return score_month(compose(root, ["score.model_uri=models/churn", *overrides]), track=False)


def folder(root: Path, month: str) -> Path:
    return root / "data" / "scores" / month


def data_end(root: Path) -> str:
    from churnml.features import data_end as end

    orders = pd.read_parquet(root / "data" / "raw" / "orders.parquet")
    return end({"orders": orders}).strftime("%Y-%m")


@pytest.fixture(scope="module")
def months(root) -> tuple[str, str]:
    """Score two consecutive months (the earlier first) and return them."""
    last = pd.Timestamp(data_end(root) + "-01")
    earlier = (last - pd.DateOffset(months=1)).strftime("%Y-%m")
    assert run_month(root, f"score.as_of={earlier}").as_of == earlier
    result = run_month(root)  # default: the month after the latest data
    assert result.as_of == last.strftime("%Y-%m") and result.previous_as_of == earlier
    return earlier, last.strftime("%Y-%m")


def test_score_writes_the_four_files(root, months):
    for month in months:
        out = folder(root, month)
        assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    rl = pd.read_parquet(folder(root, months[1]) / "risk_list.parquet")
    assert list(rl.columns) == RISK_LIST_COLUMNS
    assert rl["as_of"].eq(months[1]).all()
    assert rl["rank"].tolist() == list(range(1, len(rl) + 1))
    assert rl["account_id"].is_unique and len(rl) > 20
    assert ranked_band_first(rl)
    csv = pd.read_csv(folder(root, months[1]) / "risk_list.csv", dtype={"account_id": str})
    assert csv["account_id"].tolist() == rl["account_id"].tolist()
    # The CSV carries money in cents.
    pd.testing.assert_series_equal(csv["priority"], rl["priority"], check_exact=False, rtol=0, atol=0.005)


def test_reasons_are_dictionary_words_of_features_that_push_risk_up(root, months):
    from churnml.features.dictionary import FEATURES

    rl = pd.read_parquet(folder(root, months[1]) / "risk_list.parquet")
    # Contributions of an account above the average risk sum to more than zero, so some family
    # pushes it up: the riskiest accounts always have a reason; low-risk ones may have none.
    top = rl[rl["churn_probability"] >= rl["churn_probability"].quantile(0.9)]
    assert (top["reason_1"].str.len() > 0).all()
    for row in rl.itertuples():
        feats = [f for f in row.reason_features.split(REASON_SEP) if f]
        fams = [f for f in row.reason_families.split(REASON_SEP) if f]
        assert len(set(fams)) == len(fams)  # one reason per family
        for k, (feat, fam) in enumerate(zip(feats, fams), start=1):
            assert FEATURES[feat].family == fam
            assert FEATURES[feat].actionable  # descriptors (size, industry, …) are never reasons
            text = getattr(row, f"reason_{k}")
            assert text and "unknown" not in text, (feat, text)
        assert row.action


def test_every_model_feature_has_a_description_and_reason_words(root, months):
    """A feature cannot reach the list without its words: each one the model uses has a
    dictionary entry whose reason renders with real values of the scored month."""
    from churnml import tracking
    from churnml.catalog import load_tables_as_of
    from churnml.features import build_features
    from churnml.features.dictionary import FAMILIES, FEATURES, format_reason

    model = tracking.load_churn_model(str(root / "models" / "churn"))
    config = compose(root, [])
    tables, as_of = load_tables_as_of(config)
    frame = build_features(tables, config.features, config.labels, snapshots=[as_of])
    rows = frame[frame["in_scope"]].head(25)
    for name in model.features:
        entry = FEATURES[name]
        assert entry.description.strip() and entry.reason.strip() and entry.family in FAMILIES
        assert model.families[name] == entry.family
        for _, row in rows.iterrows():
            text = format_reason(name, row[name], row)
            assert text.strip() and "{" not in text


def test_rerunning_a_month_gives_the_same_files(root, months):
    month = months[1]
    before = {name: (folder(root, month) / name).read_bytes() for name in FILES}
    run_month(root)
    after = {name: (folder(root, month) / name).read_bytes() for name in FILES}
    for name in ("risk_list.parquet", "risk_list.csv", "risk_list.xlsx"):
        assert before[name] == after[name], name
    strip = re.compile(r" · generated [^<]*")
    assert strip.sub("", before["report.html"].decode()) == strip.sub("", after["report.html"].decode())
    assert not [p for p in folder(root, month).parent.iterdir() if p.name.startswith(".")]


def test_changes_since_the_previous_month(root, months):
    earlier, later = months
    first = pd.read_parquet(folder(root, earlier) / "risk_list.parquet")
    second = pd.read_parquet(folder(root, later) / "risk_list.parquet")
    # The earlier month was scored first: nothing to compare with.
    assert first["change"].isna().all()
    assert "no earlier list to compare with" in (folder(root, earlier) / "report.html").read_text()
    prev = first.set_index("account_id")
    for row in second.itertuples():
        if row.account_id not in prev.index:
            assert row.change == "new"
            continue
        move = prev.at[row.account_id, "rank"] - row.rank
        assert row.change == ("=" if move == 0 else f"up {move}" if move > 0 else f"down {-move}")
        before = set(prev.at[row.account_id, "reason_features"].split(REASON_SEP))
        features = row.reason_features.split(REASON_SEP)
        new = [getattr(row, f"reason_{k}") for k, f in enumerate(features, 1) if f and f not in before]
        assert row.new_reasons == REASON_SEP.join(new)
    left = set(prev.index) - set(second["account_id"])
    page = (folder(root, later) / "report.html").read_text()
    assert f"Compared with the list of <b>{earlier}</b>" in page
    for acc in left:
        assert acc in page


def test_no_contact_details_in_any_output(root, months):
    texts = []
    for month in months:
        for name in FILES:
            path = folder(root, month) / name
            if name.endswith(".xlsx"):
                from openpyxl import load_workbook

                wb = load_workbook(path)
                texts += [str(c.value) for ws in wb for row in ws.iter_rows() for c in row if c.value is not None]
                texts += [ws.title for ws in wb]
            elif name.endswith(".parquet"):
                frame = pd.read_parquet(path)
                texts += list(frame.columns) + [str(v) for v in frame.to_numpy().ravel()]
            else:
                texts.append(path.read_text())
    blob = "\n".join(texts)
    for secret in (SECRET_NAME, SECRET_MAIL, SECRET_PHONE, "full_name", "email", "phone"):
        assert secret not in blob, secret


def test_a_back_fill_compares_with_the_latest_earlier_list(root, months):
    earlier, later = months
    back = (pd.Timestamp(earlier + "-01") - pd.DateOffset(months=2)).strftime("%Y-%m")
    run_month(root, f"score.as_of={back}")
    rl = pd.read_parquet(folder(root, back) / "risk_list.parquet")
    assert rl["change"].isna().all()  # only later lists exist: nothing earlier to compare with
    # the later months are untouched
    assert pd.read_parquet(folder(root, later) / "risk_list.parquet")["as_of"].eq(later).all()


# --------------------------------------------------------------------------- exit codes


def logged(capsys) -> str:
    out = capsys.readouterr()
    return out.out + out.err


def test_no_model_exits_3_and_says_how_to_train_one(root, tmp_path, capsys):
    code = main(["score", f"paths.root={root}", f"today={TODAY}", f"score.model_uri={tmp_path / 'nothing'}"])
    assert code == 3
    text = logged(capsys)
    assert "churnml train" in text and "score.model_uri" in text and "Traceback" not in text


@pytest.mark.parametrize(
    "override, words",
    [
        ("score.as_of=July", "score.as_of"),
        ("score.as_of=2099-01", "latest month that can be scored"),
        ("score.as_of=2000-01", "not after the first order month"),
        ("score.risk_bands.high=2", "score.risk_bands.high"),
        ("+score.playbook.complaitns=Call them", "complaitns"),
    ],
)
def test_bad_configuration_exits_2_naming_it(root, months, capsys, override, words):
    before = sorted(p.name for p in folder(root, months[1]).iterdir())
    assert score(root, override) == 2
    assert words in logged(capsys)
    assert sorted(p.name for p in folder(root, months[1]).iterdir()) == before


def test_bad_input_exits_2_and_writes_nothing(root, tmp_path, capsys):
    import shutil

    raw = tmp_path / "data" / "raw"
    shutil.copytree(root / "data" / "raw", raw)
    orders = pd.read_parquet(raw / "orders.parquet")
    orders["account_id"] = orders["account_id"].astype("str")  # the world writes it as a category
    orders.loc[orders.index[:3], "account_id"] = "NOBODY"
    orders.to_parquet(raw / "orders.parquet", index=False)
    shutil.copytree(root / "models", tmp_path / "models")
    assert score(tmp_path) == 2
    assert "NOBODY" in logged(capsys)
    assert not (tmp_path / "data" / "scores").exists()


def test_unexpected_failure_exits_1_and_keeps_the_previous_outputs(root, months, monkeypatch):
    import churnml.report.html as page

    month = months[1]
    before = {name: (folder(root, month) / name).read_bytes() for name in FILES}

    def broken(report):
        raise RuntimeError("injected failure while rendering the page")

    monkeypatch.setattr(page, "page_html", broken)
    assert score(root) == 1
    assert {name: (folder(root, month) / name).read_bytes() for name in FILES} == before
    assert not [p for p in folder(root, month).parent.iterdir() if p.name.startswith(".")]
