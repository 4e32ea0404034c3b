"""The frames the charts draw: groups, the value × risk matrix, the top accounts' history."""

from __future__ import annotations

import pandas as pd

from churnml.report.charts import by_group, others_words, risk_history, value_risk

LIST = pd.DataFrame(
    {
        "as_of": "2025-03",
        "rank": [1, 2, 3, 4, 5],
        "account_id": ["a", "b", "c", "d", "e"],
        "name": ["A", "B", "C", "D", None],
        "account_manager": ["m1", "m1", "m2", None, "m2"],
        "revenue_12m": [1000.0, 50.0, 900.0, 10.0, 20.0],
        "churn_probability": [0.6, 0.5, 0.05, 0.02, 0.3],
        "revenue_at_risk": [600.0, 25.0, 45.0, 0.2, 6.0],
    }
)


def test_groups_sum_revenue_at_risk_largest_first():
    groups = by_group(LIST, "account_manager")
    # No manager reads as on the workbook's sheet of those accounts.
    assert groups["account_manager"].tolist() == ["m1", "m2", "Unassigned"]
    assert groups["revenue_at_risk"].tolist() == [625.0, 51.0, 0.2]
    # The groups beyond the top n are no bar (their sum would dwarf the ones to act on): the title says it.
    top = by_group(LIST, "account_manager", n=1)
    assert top["account_manager"].tolist() == ["m1"]
    assert others_words(top, "EUR") == "; 2 others hold 51 EUR"
    assert others_words(groups, "EUR") == ""


def test_quadrants_split_by_the_top_fifth_of_revenue_and_the_risk_line():
    matrix, line = value_risk(LIST, 0.15)
    assert line == LIST["revenue_12m"].quantile(0.8)
    assert dict(zip(matrix["account_id"], matrix["quadrant"])) == {
        "a": "defend", "b": "watch", "c": "maintain", "d": "maintain", "e": "watch"
    }


def test_history_follows_this_lists_top_accounts_back():
    earlier = pd.DataFrame({"as_of": ["2025-01", "2025-02", "2025-02"], "account_id": ["a", "a", "z"],
                            "churn_probability": [0.2, 0.4, 0.9]})
    table = risk_history(earlier, LIST, n=2)
    assert list(table.columns) == ["A", "B"] and list(table.index) == ["2025-01", "2025-02", "2025-03"]
    assert table["A"].tolist() == [0.2, 0.4, 0.6] and table["B"].isna().tolist() == [True, True, False]
