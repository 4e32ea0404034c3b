"""A slow, obviously correct reference for `build_features`: for every snapshot and account it
filters the raw rows dated before t (or in the label window) and computes each feature, flag and
label straight from its definition. Tests compare the panel-based frame against it."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from churnml.config import FeaturesConfig, LabelsConfig

DPM = 30.4375
COMPLAINT_CATEGORIES = ["quality", "delivery", "service", "price", "other"]
SIGNAL_KINDS = ["quote", "visit", "trial_order", "tender_lost", "price_cut", "other"]


def months_ago(t: pd.Timestamp, w: int) -> pd.Timestamp:
    return t - pd.DateOffset(months=w)


def month_no(d: pd.Timestamp) -> int:
    return d.year * 12 + d.month - 1


def between(frame: pd.DataFrame, col: str, lo: pd.Timestamp | None, hi: pd.Timestamp) -> pd.DataFrame:
    """Rows with lo <= frame[col] < hi (lo None: no lower bound)."""
    mask = frame[col] < hi
    if lo is not None:
        mask &= frame[col] >= lo
    return frame[mask]


def norm(values: pd.Series, levels: list[str]) -> pd.Series:
    """Lower-cased values, unknown ones as 'other' (missing stays missing)."""
    def one(v):
        if not isinstance(v, str):
            return None
        v = v.strip().lower()
        return v if v in levels else "other"

    return pd.Series([one(v) for v in values.astype(object)], index=values.index, dtype=object)


def days(a: pd.Timestamp, b: pd.Timestamp) -> float:
    return (a - b) / pd.Timedelta(days=1)


class Naive:
    """Per-account, per-snapshot computation from the raw tables."""

    def __init__(self, tables: dict[str, pd.DataFrame], fcfg: FeaturesConfig, lcfg: LabelsConfig):
        self.t = tables
        self.f = fcfg
        self.l = lcfg
        self.orders = tables["orders"]
        self.data_start = self.orders["order_date"].min().to_period("M").to_timestamp()
        self.data_end = (self.orders["order_date"].max().to_period("M") + 1).to_timestamp()
        self.accounts = tables["accounts"].set_index("account_id", drop=False)
        self.scope = lru_cache(maxsize=None)(self._in_scope)
        self.first_order = lru_cache(maxsize=None)(self._first_order)
        self.exists = lru_cache(maxsize=None)(self._exists)
        self.bgnbd = lru_cache(maxsize=None)(self._bgnbd)
        self._by_account = {a: g for a, g in self.orders.groupby("account_id")}
        self._empty = self.orders.iloc[:0]

    def btyd_history(self, acc: str, t: pd.Timestamp) -> tuple[float, float, float]:
        """BG/NBD's (x, t_x, T) in weeks from the distinct order days before t."""
        o = self.o(acc)
        order_days = sorted(o.loc[o["order_date"] < t, "order_date"].dt.normalize().unique())
        first, last = order_days[0], order_days[-1]
        return len(order_days) - 1.0, days(last, first) / 7, days(t, first) / 7

    def _bgnbd(self, t: pd.Timestamp):
        """BG/NBD fitted on every account with an order before t (accounts table order)."""
        from churnml.features.bgnbd import fit_bgnbd

        hist = [self.btyd_history(a, t) for a in self.t["accounts"]["account_id"]
                if (self.o(a)["order_date"] < t).any()]
        if not hist:
            return None
        x, t_x, T = (np.array(v) for v in zip(*hist))
        return fit_bgnbd(x, t_x, T)

    # --- orders-derived basics -----------------------------------------------------------------
    def o(self, acc: str) -> pd.DataFrame:
        return self._by_account.get(acc, self._empty)

    def _first_order(self, acc: str, t: pd.Timestamp):
        before = self.o(acc)
        before = before[before["order_date"] < t]
        return before["order_date"].min() if len(before) else None

    def _exists(self, acc: str, t: pd.Timestamp) -> bool:
        since = self.accounts.at[acc, "since"]
        return self.first_order(acc, t) is not None or (pd.notna(since) and since < t)

    def rev(self, acc: str, lo: pd.Timestamp, hi: pd.Timestamp) -> float:
        return float(between(self.o(acc), "order_date", lo, hi)["net_amount"].sum())

    def months_known(self, acc: str, t: pd.Timestamp) -> int:
        first = self.first_order(acc, t)
        return 0 if first is None else min(12, month_no(t) - month_no(first))

    def usual(self, acc: str, t: pd.Timestamp) -> float:
        n = self.months_known(acc, t)
        return self.rev(acc, months_ago(t, 12), t) / n if n > 0 else np.nan

    def _in_scope(self, acc: str, t: pd.Timestamp) -> bool:
        if not self.exists(acc, t):
            return False
        L, share = self.l.lost_window_months, self.l.retained_share
        if len(between(self.o(acc), "order_date", months_ago(t, self.l.scope_months), t)) == 0:
            return False
        out = self.t.get("outcomes")
        if out is not None and ((out["account_id"] == acc) & (out["lost_at"] < t)).any():
            return False
        if L > 0:
            w = self.lost_window(acc, t)
            edge = months_ago(t, w)
            first = self.first_order(acc, t)
            n = min(12, month_no(edge) - month_no(first))
            if n > 0:
                if self.regular(acc, t):  # its revenue must not have fallen away
                    usual = self.rev(acc, months_ago(edge, 12), edge) / n
                    if not self.rev(acc, edge, t) > share * usual * L:
                        return False
                elif len(between(self.o(acc), "order_date", edge, t)) == 0:  # else: silence
                    return False
        return True

    def lost_window(self, acc: str, t: pd.Timestamp) -> int:
        """2 (rhythm_gaps) of the account's usual gaps between order days before t, in months
        rounded up, at least lost_window_months, at most scope_months; lost_window_months with no gap."""
        seen = between(self.o(acc), "order_date", pd.Timestamp("1900-01-01"), t)
        order_days = np.unique(seen["order_date"].dt.normalize().to_numpy().astype("datetime64[D]"))
        L, scope = self.l.lost_window_months, self.l.scope_months
        if len(order_days) < 2:
            return min(L, scope)
        gap = np.diff(order_days.astype(np.int64)).mean() / 30.4375
        return int(min(max(np.ceil(self.l.rhythm_gaps * gap - 1e-9), min(L, scope)), scope))

    def regular(self, acc: str, t: pd.Timestamp) -> bool:
        """A rhythm of its own (two order days) and a lost window of lost_window_months."""
        if self.l.lost_window_months == 0:
            return True
        seen = between(self.o(acc), "order_date", pd.Timestamp("1900-01-01"), t)
        two_days = seen["order_date"].dt.normalize().nunique() >= 2
        return two_days and self.lost_window(acc, t) == self.l.lost_window_months

    def gone(self, acc: str, t: pd.Timestamp) -> bool:
        return self.exists(acc, t) and self.first_order(acc, t) is not None and not self.scope(acc, t)

    def became_gone_within(self, acc: str, t: pd.Timestamp, months: int) -> bool:
        for k in range(months):
            s = months_ago(t, k)
            if self.gone(acc, s) and not self.gone(acc, months_ago(s, 1)):
                return True
        return False

    # --- one row --------------------------------------------------------------------------------
    def row(self, acc: str, t: pd.Timestamp) -> dict:
        r: dict = {"account_id": acc, "snapshot": t}
        r["in_scope"] = self.scope(acc, t)
        bought_24 = len(between(self.o(acc), "order_date", months_ago(t, 2 * self.l.scope_months), t)) > 0
        r["recently_lost"] = (not r["in_scope"]) and bought_24
        r["labelled"] = t + pd.DateOffset(months=self.l.horizon_months) <= self.data_end
        r.update(self.labels(acc, t, r["in_scope"], r["labelled"]))
        r.update(self.order_features(acc, t))
        if "complaints" in self.t:
            r.update(self.complaint_features(acc, t))
        if "competitor_signals" in self.t:
            r.update(self.competitor_features(acc, t))
        if "interactions" in self.t:
            r.update(self.interaction_features(acc, t))
        if "contacts" in self.t:
            r.update(self.contact_features(acc, t))
        if "interactions" in self.t:
            r.update(self.switching_features(acc, t))
        r.update(self.peer_features(acc, t))
        r.update(self.account_features(acc, t))
        return r

    def labels(self, acc: str, t: pd.Timestamp, in_scope: bool, labelled: bool) -> dict:
        if not (in_scope and labelled):
            return {"churn": np.nan, "switch": np.nan}
        H = self.l.horizon_months
        end = t + pd.DateOffset(months=H)
        if self.regular(acc, t):
            churn = self.rev(acc, t, end) <= self.l.retained_share * self.usual(acc, t) * H
        else:  # orders a few times a year: churn is ordering nothing in the window
            churn = len(between(self.o(acc), "order_date", t, end)) == 0
        evidence = False
        out = self.t.get("outcomes")
        if out is not None:
            mine = between(out[out["account_id"] == acc], "lost_at", t, end)
            churn = churn or len(mine) > 0
            evidence = (mine["reason"].astype(object) == "competitor").any()
        sig = self.t.get("competitor_signals")
        if sig is not None:
            mine = between(sig[sig["account_id"] == acc], "observed_at",
                           months_ago(t, self.l.switch_evidence_months_before), end)
            evidence = evidence or mine["kind"].astype(object).isin(self.l.switch_signal_kinds).any()
        return {"churn": float(churn), "switch": float(churn and evidence)}

    def order_features(self, acc: str, t: pd.Timestamp) -> dict:
        o = self.o(acc)
        before = o[o["order_date"] < t]
        r = {}
        for w in (1, 3, 6, 12):
            win = between(o, "order_date", months_ago(t, w), t)
            r[f"revenue_{w}m"] = float(win["net_amount"].sum())
            r[f"lines_{w}m"] = float(len(win))
        r["usual_monthly_revenue"] = self.usual(acc, t)

        def trend(lag: int) -> float:
            if months_ago(t, lag + 3) < self.data_start:
                return np.nan
            prev = self.rev(acc, months_ago(t, lag + 3), months_ago(t, lag))
            return r["revenue_3m"] / prev - 1 if prev > 0 else np.nan

        r["revenue_trend_3v3"] = trend(3)
        r["revenue_trend_yoy"] = trend(12)
        if months_ago(t, 6) < self.data_start:
            r["lines_trend_3v3"] = np.nan
        else:
            prev = len(between(o, "order_date", months_ago(t, 6), months_ago(t, 3)))
            r["lines_trend_3v3"] = r["lines_3m"] / prev - 1 if prev > 0 else np.nan
        first = self.first_order(acc, t)
        for w, least in ((6, 6), (3, 2)):
            edge = months_ago(t, w)
            history = month_no(edge) - month_no(first) if first is not None else 0
            for name, measure in (("revenue", lambda w: w["net_amount"].sum()), ("lines", len)):
                if history < least:
                    r[f"{name}_{w}m_vs_history"] = np.nan
                    continue
                hist = measure(between(o, "order_date", first.to_period("M").to_timestamp(), edge)) / history
                r[f"{name}_{w}m_vs_history"] = r[f"{name}_{w}m"] / w / hist - 1 if hist > 0 else np.nan
        ks = [k for k in range(12) if months_ago(t, 12 - k) >= self.data_start]
        y = np.array([self.rev(acc, months_ago(t, 12 - k), months_ago(t, 11 - k)) for k in ks])
        mean = y.mean() if len(y) else np.nan
        enough = len(ks) >= 3 and mean > 0
        r["revenue_slope_12m"] = np.polyfit(np.array(ks, dtype=float), y, 1)[0] / mean if enough else np.nan
        r["revenue_volatility_12m"] = y.std() / mean if enough else np.nan
        win12 = between(o, "order_date", months_ago(t, 12), t)
        active = win12["order_date"].dt.to_period("M").nunique()
        r["active_months_12m"] = float(active)
        r["months_since_last_order"] = days(t, before["order_date"].max()) / DPM if len(before) else np.nan
        known = self.months_known(acc, t)
        r["recency_vs_usual_gap"] = (
            r["months_since_last_order"] / (known / active) if active > 0 and known > 0 else np.nan
        )
        since = self.accounts.at[acc, "since"]
        starts = [d for d in (since, self.first_order(acc, t)) if d is not None and pd.notna(d) and d < t]
        r["tenure_months"] = days(t, min(starts)) / DPM if starts else np.nan
        first_ever = o["order_date"].min()
        since_known = pd.notna(since) and since.normalize() < first_ever.normalize()
        censored = first_ever.to_period("M").to_timestamp() == self.data_start and not since_known
        r["tenure_is_lower_bound"] = float(censored) if first_ever < t else np.nan
        r["history_months"] = float(month_no(t) - month_no(self.data_start))
        H = self.l.horizon_months
        width = min(H, 12)
        usual_h = r["usual_monthly_revenue"] * width
        r["revenue_same_months_last_year"] = (
            self.rev(acc, months_ago(t, 12), months_ago(t, 12 - width)) / usual_h
            if months_ago(t, 12) >= self.data_start and usual_h > 0 else np.nan
        )
        order_days = sorted(before["order_date"].dt.normalize().unique())
        for w in (3, 12):
            r[f"order_days_{w}m"] = float(sum(d >= months_ago(t, w) for d in order_days))
        gaps = np.diff(np.array(order_days, dtype="datetime64[D]").astype(np.int64)).astype(float)
        mean_gap = gaps.mean() if len(gaps) else np.nan
        r["order_gap_mean_days"] = mean_gap if len(gaps) else np.nan
        r["order_gap_cv"] = gaps.std() / mean_gap if len(gaps) >= 2 and mean_gap > 0 else np.nan
        r["days_since_order_vs_gap"] = days(t, order_days[-1]) / mean_gap if len(gaps) and mean_gap > 0 else np.nan
        model = self.bgnbd(t)
        if order_days and model is not None:
            x, t_x, T = self.btyd_history(acc, t)
            r["bgnbd_p_alive"] = float(model.p_alive(x, t_x, T))
            r["bgnbd_expected_order_days"] = float(model.expected_purchases(H * DPM / 7, x, t_x, T))
        else:
            r["bgnbd_p_alive"] = r["bgnbd_expected_order_days"] = np.nan
        pace = r["order_days_12m"] / known * H if known > 0 else 0.0
        r["bgnbd_expected_vs_pace"] = r["bgnbd_expected_order_days"] / pace if pace > 0 else np.nan
        r["product_lines_12m"] = float(win12["product_line"].nunique())
        if months_ago(t, 12) >= self.data_start:
            last6 = between(o, "order_date", months_ago(t, 6), t)["product_line"].nunique()
            prev6 = between(o, "order_date", months_ago(t, 12), months_ago(t, 6))["product_line"].nunique()
            r["product_lines_change"] = float(last6 - prev6)
        else:
            r["product_lines_change"] = np.nan
        listed = win12[win12["list_amount"].notna()]
        r["discount_depth_12m"] = (
            1 - listed["net_amount"].sum() / listed["list_amount"].sum()
            if listed["list_amount"].sum() > 0 else np.nan
        )
        both = o[o["promised_date"].notna() & o["delivered_date"].notna()].copy()
        both["known"] = np.maximum(both["delivered_date"], both["order_date"])
        for w in (3, 12):
            d = between(both, "known", months_ago(t, w), t)
            r[f"on_time_rate_{w}m"] = (d["delivered_date"] <= d["promised_date"]).mean() if len(d) else np.nan
        r["on_time_rate_change_3v12"] = r["on_time_rate_3m"] - r["on_time_rate_12m"]
        region = self.accounts.at[acc, "region"]
        r["on_time_rate_vs_region_3m"] = np.nan
        if pd.notna(region):
            same = self.accounts.index[(self.accounts["region"] == region) & (self.accounts.index != acc)]
            all_ = self.orders[self.orders["promised_date"].notna() & self.orders["delivered_date"].notna()]
            all_ = all_[all_["account_id"].isin(same)].copy()
            all_["known"] = np.maximum(all_["delivered_date"], all_["order_date"])
            d = between(all_, "known", months_ago(t, 3), t)
            if len(d) and pd.notna(r["on_time_rate_3m"]):
                r["on_time_rate_vs_region_3m"] = r["on_time_rate_3m"] - (d["delivered_date"] <= d["promised_date"]).mean()
        d = between(both, "known", months_ago(t, 12), t)
        late = ((d["delivered_date"] - d["promised_date"]).dt.days).clip(lower=0)
        r["late_days_mean_12m"] = late.mean() if len(d) else np.nan
        rev12 = r["revenue_12m"]
        custom = win12[win12["custom"].fillna(False).astype(bool)]["net_amount"].sum()
        r["custom_revenue_share_12m"] = custom / rev12 if rev12 > 0 else np.nan
        spend = self.accounts.at[acc, "category_spend"]
        r["share_of_wallet"] = rev12 / spend if pd.notna(spend) and spend > 0 else np.nan
        return r

    def complaint_features(self, acc: str, t: pd.Timestamp) -> dict:
        c = self.t["complaints"]
        c = c[(c["account_id"] == acc) & (c["opened_at"] < t)].copy()
        c["cat"] = norm(c["category"], COMPLAINT_CATEGORIES)
        r = {}
        for w in (3, 12):
            r[f"complaints_opened_{w}m"] = float(len(between(c, "opened_at", months_ago(t, w), t)))
        last12 = between(c, "opened_at", months_ago(t, 12), t)
        for cat in COMPLAINT_CATEGORIES:
            r[f"complaints_{cat}_12m"] = float((last12["cat"] == cat).sum())
        open_ = c[c["resolved_at"].isna() | (c["resolved_at"] >= t)]
        r["complaints_open"] = float(len(open_))
        sev = open_["severity"].dropna()
        r["complaint_max_open_severity"] = float(sev.max()) if len(sev) else 0.0
        r["complaints_severe_12m"] = float((last12["severity"] == 3).sum())
        r["complaint_oldest_open_days"] = days(t, open_["opened_at"].min()) if len(open_) else np.nan
        done = between(c[c["resolved_at"].notna()], "resolved_at", months_ago(t, 12), t)
        spans = (done["resolved_at"] - done["opened_at"]).dt.days
        r["complaint_median_resolution_days_12m"] = float(spans.median()) if len(done) else np.nan
        return r

    def competitor_features(self, acc: str, t: pd.Timestamp) -> dict:
        s = self.t["competitor_signals"]
        s = s[(s["account_id"] == acc) & (s["observed_at"] < t)].copy()
        s["k"] = norm(s["kind"], SIGNAL_KINDS)
        r = {}
        for w in (3, 12):
            r[f"competitor_signals_{w}m"] = float(len(between(s, "observed_at", months_ago(t, w), t)))
        last12 = between(s, "observed_at", months_ago(t, 12), t)
        for kind in SIGNAL_KINDS:
            r[f"signals_{kind}_12m"] = float((last12["k"] == kind).sum())
        r["months_since_competitor_signal"] = days(t, s["observed_at"].max()) / DPM if len(s) else np.nan
        gaps = last12[last12["price_gap"].notna()]
        r["price_gap_deepest_12m"] = gaps["price_gap"].min() if len(gaps) else np.nan
        if len(gaps):
            latest = gaps[gaps["observed_at"] == gaps["observed_at"].max()]
            r["price_gap_latest_12m"] = latest["price_gap"].min()
        else:
            r["price_gap_latest_12m"] = np.nan
        return r

    def _interactions(self, acc: str, t: pd.Timestamp) -> pd.DataFrame:
        i = self.t["interactions"]
        return i[(i["account_id"] == acc) & (i["occurred_at"] < t)]

    def interaction_features(self, acc: str, t: pd.Timestamp) -> dict:
        i = self._interactions(acc, t)
        r = {}
        for w in (3, 12):
            r[f"interactions_{w}m"] = float(len(between(i, "occurred_at", months_ago(t, w), t)))
        last12 = between(i, "occurred_at", months_ago(t, 12), t)
        names = {"exec_visit": "exec_visits_12m", "sales_visit": "sales_visits_12m",
                 "business_review": "business_reviews_12m", "training": "trainings_12m"}
        for kind, name in names.items():
            r[name] = float((last12["kind"] == kind).sum())
        ex = i[i["kind"] == "exec_visit"]
        r["months_since_exec_visit"] = days(t, ex["occurred_at"].max()) / DPM if len(ex) else np.nan
        return r

    def contact_features(self, acc: str, t: pd.Timestamp) -> dict:
        c = self.t["contacts"]
        c = c[c["account_id"] == acc]
        role = norm(c["role"], ["decision_maker", "buyer", "technical", "other"])
        present = (c["start_date"].isna() | (c["start_date"] < t)) & (c["end_date"].isna() | (c["end_date"] >= t))
        dm = (role == "decision_maker").to_numpy()
        r = {"contacts_current": float(present.sum())}
        for w in (6, 12):
            r[f"contacts_left_{w}m"] = float(len(between(c, "end_date", months_ago(t, w), t)))
        r["decision_makers_current"] = float((present & dm).sum())
        d = c[dm]
        r["decision_makers_left_12m"] = float(len(between(d, "end_date", months_ago(t, 12), t)))
        r["decision_maker_changes_24m"] = float(
            len(between(d, "end_date", months_ago(t, 24), t)) + len(between(d, "start_date", months_ago(t, 24), t))
        )
        gone = d[d["end_date"] < t]
        r["months_since_decision_maker_left"] = days(t, gone["end_date"].max()) / DPM if len(gone) else np.nan
        return r

    def switching_features(self, acc: str, t: pd.Timestamp) -> dict:
        j = self._interactions(acc, t)
        j = j[j["kind"] == "joint_development"]
        return {
            "joint_development_total": float(len(j)),
            "joint_development_24m": float(len(between(j, "occurred_at", months_ago(t, 24), t))),
            "months_since_joint_development": days(t, j["occurred_at"].max()) / DPM if len(j) else np.nan,
        }

    def peer_features(self, acc: str, t: pd.Timestamp) -> dict:
        industry = self.accounts.at[acc, "industry"]
        if pd.isna(industry):
            return {"peer_churn_rate_12m": np.nan, "peer_switch_rate_12m": np.nan, "peer_leader_lost_6m": np.nan,
                    "months_since_peer_leader_lost": np.nan}
        out = self.t.get("outcomes")
        lost = switched = base = leaders = 0
        for other in self.accounts.index:
            if other == acc or self.accounts.at[other, "industry"] != industry:
                continue
            was_lost = self.became_gone_within(other, t, 12)
            was_switched = False
            if out is not None:
                mine = between(out[out["account_id"] == other], "lost_at", months_ago(t, 12), t)
                was_switched = (mine["reason"].astype(object) == "competitor").any()
            lost += was_lost
            switched += was_switched
            base += self.scope(other, t) or was_lost or was_switched
            influence = self.accounts.at[other, "influence"]
            if pd.notna(influence) and influence >= self.f.peer_leader_influence:
                leaders += self.became_gone_within(other, t, 6)
        r = {
            "peer_churn_rate_12m": lost / base if base else np.nan,
            "peer_switch_rate_12m": switched / base if base else np.nan,
            "peer_leader_lost_6m": float(leaders > 0),
            "months_since_peer_leader_lost": self.since_leader_lost(acc, industry, t),
        }
        if out is None:
            del r["peer_switch_rate_12m"]  # switches need outcomes
        return r

    def since_leader_lost(self, acc: str, industry: str, t: pd.Timestamp) -> float:
        """Months since another leader of the industry, in scope at each of the 6 months before,
        dropped out (gone now, not the month before); NaN when none."""
        latest = None
        for other in self.accounts.index:
            influence = self.accounts.at[other, "influence"]
            if other == acc or self.accounts.at[other, "industry"] != industry:
                continue
            if pd.isna(influence) or influence < self.f.peer_leader_influence:
                continue
            s = t
            while s > self.data_start:
                if (self.gone(other, s) and not self.gone(other, months_ago(s, 1))
                        and all(self.scope(other, months_ago(s, k)) for k in range(1, 7))):
                    latest = s if latest is None else max(latest, s)
                    break
                s = months_ago(s, 1)
        return np.nan if latest is None else float(month_no(t) - month_no(latest))

    def account_features(self, acc: str, t: pd.Timestamp) -> dict:
        a = self.accounts.loc[acc]
        end = a["contract_end"]
        remaining = days(end, t) / DPM if pd.notna(end) else np.nan
        return {
            "employees": float(a["employees"]) if pd.notna(a["employees"]) else np.nan,
            "influence": a["influence"],
            "category_spend": a["category_spend"],
            "contract_months_remaining": remaining if remaining >= 0 else np.nan,
            "months_to_contract_anniversary": remaining % 12 if pd.notna(end) else np.nan,
            "industry": a["industry"],
            "region": a["region"],
            "tier": a["tier"],
        }


def naive_features(
    tables: dict[str, pd.DataFrame],
    fcfg: FeaturesConfig,
    lcfg: LabelsConfig,
    snapshots: list[pd.Timestamp],
) -> pd.DataFrame:
    """The reference frame: one row per existing account and snapshot, snapshot-major."""
    naive = Naive(tables, fcfg, lcfg)
    rows = [
        naive.row(acc, t)
        for t in snapshots
        for acc in tables["accounts"]["account_id"]
        if naive.exists(acc, t)
    ]
    return pd.DataFrame(rows)
