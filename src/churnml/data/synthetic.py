"""The synthetic key-account world: a monthly simulation of an industrial supplier's customers.

`generate_world` simulates accounts month by month and returns the seven contract tables (as the
loader would return them) plus a ground truth the pipeline never reads: every account's true
monthly hazard of leaving and its components, its churn month and reason, its true switching
cost. `oracle_scores` turns that truth into the best possible score at a snapshot.

How the world works (every number is a field of `WorldParams`, mirrored in
conf/data/synthetic.yaml under `world:`; docs/synthetic_world.md tells the story):
- Accounts have heavy-tailed sizes, an industry (with one or two influential leaders), a region,
  a tier derived from size, a true share of wallet, a switching cost, a contract, a start date;
  some arrive later. A burn-in before the start lets every process settle.
- Each month, an account still with us has a hazard of deciding to leave:
  `hazard_switch = min(hazard_max, base_hazard * exp(frailty + noise + share_of_wallet +
  switching_cost + complaints + competitor + decision_maker + contacts + growth_gap + relationship
  + leader_loss + contract_renewal))` (each component a log-hazard contribution, 0 when its driver
  is absent) and `hazard_decline = min(hazard_max, decline_base_hazard * exp(frailty_decline +
  business_decline))`; `hazard = 1 - (1 - hazard_switch) * (1 - hazard_decline)`. The components
  of month m come from the state at the end of month m-1.
- An account that decides to leave orders less over one to three months, down to 0-15 % of
  before, and what is left then fades; while drivers press on it, it moves share of wallet away
  before the break.
- Only some losses are recorded in `outcomes`; optional values are sometimes missing.

Everything is vectorised across accounts; the only Python loop is over months.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import numpy as np
import pandas as pd

from churnml.config import SyntheticDataConfig
from churnml.constraints import check, check_field
from churnml.data.contract import TABLES, coded_as_categories
from churnml.data.world_params import WorldParams
from churnml.errors import ConfigError
from churnml.months import parse_today

log = logging.getLogger(__name__)

TABLE_NAMES = tuple(TABLES)  # the world holds every contract table
TIERS = ("key", "major", "standard")
# Log-hazard components of the switch hazard, in the order they are written to the truth.
SWITCH_COMPONENTS = (
    "share_of_wallet",
    "switching_cost",
    "complaints",
    "competitor",
    "decision_maker",
    "contacts",
    "growth_gap",
    "relationship",
    "leader_loss",
    "contract_renewal",
)
# The drivers that also push an account to move share of wallet away before it breaks.
PRESSURE_COMPONENTS = SWITCH_COMPONENTS[2:-1]
REASONS = ("competitor", "business_decline")
_NEVER = np.iinfo(np.int64).max // 4  # a day number meaning "has not happened"


@dataclass
class World:
    """A generated world: `tables` (the seven contract tables, as the loader returns them) and
    `truth` (`hazard`: one row per account and month at risk; `accounts`: one row per account)."""

    tables: Dict[str, pd.DataFrame]
    truth: Dict[str, pd.DataFrame]
    start: pd.Timestamp
    months: int
    seed: int
    params: WorldParams

    @property
    def end(self) -> pd.Timestamp:
        """The first month after the world (its data ends the day before)."""
        return self.start + pd.DateOffset(months=self.months)


# --------------------------------------------------------------------------------------------
# The simulation


class _Rows:
    """Collects the rows of one output table as chunks of numpy arrays, one chunk per call."""

    def __init__(self, *columns: str):
        self.chunks: dict[str, list[np.ndarray]] = {c: [] for c in columns}
        self.enabled = True  # off during the burn-in

    def add(self, **arrays: np.ndarray) -> None:
        if not self.enabled:
            return
        for name, values in arrays.items():
            self.chunks[name].append(np.asarray(values))

    def get(self) -> dict[str, np.ndarray]:
        """The collected columns; the chunks are released (call once)."""
        out = {}
        for name, parts in self.chunks.items():
            out[name] = np.concatenate(parts) if parts else np.array([], dtype=np.int64)
            parts.clear()
        return out


class _FromStart:
    """A per-month array indexed by month number from the start; the burn-in months are negative."""

    def __init__(self, values: np.ndarray, offset: int):
        self.values, self.offset = values, offset

    def __getitem__(self, month: Any) -> Any:
        return self.values[np.asarray(month) + self.offset]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _tier_values(values: List[float], tier: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=float)[tier]


class _Simulation:
    """The state of every account, advanced one month at a time by `step`."""

    def __init__(self, n: int, months: int, start: np.datetime64, p: WorldParams, rng: np.random.Generator,
                 today: pd.Timestamp):
        self.n, self.M, self.p, self.rng = n, months, p, rng
        self.start = start
        # Months are numbered from the start (0); the burn-in runs at negative months.
        self.B = p.burn_in_months
        bounds = np.arange(start - self.B, start + months + 1, dtype="datetime64[M]")
        days = bounds.astype("datetime64[D]").astype(np.int64)
        self.month_day = _FromStart(days, self.B)  # first day of each month
        self.days_in = _FromStart(np.diff(days), self.B)
        self.end_day = int(days[-1])  # the extract: nothing after it is known yet
        self.today_day = int(np.datetime64(today.date(), "D").astype(np.int64))
        self.cal_month = _FromStart((np.arange(-self.B, months) + start.astype(np.int64)) % 12, self.B)
        self._setup_market()
        self._setup_accounts()
        self._setup_state()
        self.orders = _Rows("acc", "day", "prod", "qty", "list", "net", "custom", "promised", "delivered")
        self.complaints = _Rows("acc", "opened", "resolved", "category", "severity")
        self.signals = _Rows("acc", "day", "competitor", "kind", "gap")
        self.interactions = _Rows("acc", "day", "kind")
        self.outcomes = _Rows("acc", "day", "reason", "competitor")
        self.hazard = _Rows("acc", "month", "hazard", "hazard_switch", "hazard_decline", "frailty",
                            "noise", *SWITCH_COMPONENTS, "business_decline", "share_of_wallet_multiplier")
        self.collectors = [self.orders, self.complaints, self.signals, self.interactions, self.outcomes, self.hazard]

    # ---- set-up

    def _setup_market(self) -> None:
        p, rng = self.p, self.rng
        K, R = len(p.industries), len(p.regions)
        # Industry seasonality: a yearly wave of its own phase, and a December dip for everyone.
        phase = rng.uniform(0, 12, K)
        amp = p.seasonality_amplitude * rng.uniform(0.5, 1.5, K)
        months = np.arange(12)
        season = 1 + amp[:, None] * np.sin(2 * np.pi * (months[None, :] - phase[:, None]) / 12)
        season[:, 11] *= 1 - p.seasonality_amplitude
        self.season = season / season.mean(axis=1, keepdims=True)
        self.contest = np.asarray(p.industry_contest, dtype=float)
        self.cycle = rng.normal(0, p.industry_cycle_sd / math.sqrt(1 - p.industry_cycle_ar**2 + 1e-9), K)
        self.load_base = np.full(R, p.capacity_utilisation)
        self.load = self.load_base.copy()
        self.crunch_left = np.zeros(R, dtype=np.int64)
        self.slip_left = np.zeros(R, dtype=np.int64)
        self.boost_comp = np.full(K, -1)
        self.boost_until = np.full(K, -1)
        self.unit_prices = np.asarray(p.unit_prices, dtype=float)
        C = len(p.competitors)
        self.comp_weights = rng.dirichlet(np.full(C, 3.0), K)  # who is strong in which industry

    def _setup_accounts(self) -> None:
        p, rng, n, M = self.p, self.rng, self.n, self.M
        K, R, P = len(p.industries), len(p.regions), len(p.product_lines)
        n_new = int(round(p.new_account_share * n)) if M > 1 else 0
        self.arrival = np.zeros(n, dtype=np.int64)
        if n_new:
            self.arrival[n - n_new :] = np.sort(rng.integers(1, M, n_new))
        self.size = rng.lognormal(0.0, p.size_sigma, n)
        self.base_revenue = p.median_monthly_revenue * self.size
        self.base_lines = p.median_lines_per_month * self.size**p.lines_size_elasticity
        self.line_value = self.base_revenue / self.base_lines
        # A large account files more complaints in absolute terms; what hurts is many for its size.
        self.complaint_scale = (self.base_lines / p.median_lines_per_month) ** p.late_line_exponent
        self.industry = rng.choice(K, n, p=rng.dirichlet(np.full(K, 8.0)))
        self.region = rng.choice(R, n, p=rng.dirichlet(np.full(R, 10.0)))
        rank = np.empty(n, dtype=np.int64)
        rank[np.argsort(-self.size, kind="stable")] = np.arange(n)
        self.size_pct = 1 - rank / max(n - 1, 1)  # 1 = largest
        n_key = int(round(p.key_share * n))
        n_major = int(round(p.major_share * n))
        self.tier = np.where(rank < n_key, 0, np.where(rank < n_key + n_major, 1, 2))

        # Leaders: the largest accounts present from the start, one or two per industry.
        self.influence = np.clip(rng.beta(1.2, 10.0, n) + 0.15 * self.size_pct, 0, 0.6)
        self.is_leader = np.zeros(n, dtype=bool)
        for k in range(K):
            members = np.flatnonzero((self.industry == k) & (self.arrival == 0))
            if len(members) == 0:
                continue
            count = min(len(members), int(rng.integers(1, p.leaders_max + 1)))
            leaders = members[np.argsort(-self.size[members], kind="stable")[:count]]
            self.is_leader[leaders] = True
            self.influence[leaders] = rng.uniform(p.leader_influence_min, 1.0, count)

        sow_range = p.share_of_wallet_max - p.share_of_wallet_min
        self.share_of_wallet = p.share_of_wallet_min + sow_range * rng.beta(2, 2, n)
        spend = 12 * self.base_revenue / self.share_of_wallet
        self.category_spend = spend * rng.lognormal(0, p.category_spend_noise, n)

        a = 1.2
        b = a * (1 - p.custom_share_mean) / max(p.custom_share_mean, 1e-6)
        self.custom_share = np.clip(rng.beta(a, b, n) * (0.7 + 0.6 * self.size_pct), 0, 0.9)
        self.breadth = 1 + rng.binomial(P - 1, 0.25 + 0.45 * self.size_pct)
        rank_p = np.argsort(np.argsort(rng.random((n, P)), axis=1), axis=1)
        weights = rng.gamma(1.0, 1.0, (n, P)) * (rank_p < self.breadth[:, None])
        self.mix_cum = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
        self.mix_cum[:, -1] = 1.0

        # Relationship start: years before the start for accounts already there; at arrival otherwise.
        tenure = 0.3 + rng.exponential(max(p.tenure_mean_years - 0.3, 0.01), n)
        since = self.month_day[0] - np.round(tenure * 365.25).astype(np.int64)
        arrived_later = self.arrival > 0
        since[arrived_later] = self.month_day[self.arrival[arrived_later]] - rng.integers(0, 60, arrived_later.sum())
        self.since_day = since
        self.tenure_at_entry = np.where(arrived_later, 0.0, tenure)
        self.joint_dev = rng.random(n) < _tier_values(p.joint_development_share, self.tier)
        sc = (
            p.sc_base
            + p.sc_custom * self.custom_share
            + p.sc_joint_development * self.joint_dev
            + p.sc_tenure * np.minimum(1.0, self.tenure_at_entry / 10)
            + p.sc_breadth * (self.breadth - 1) / max(P - 1, 1)
            + rng.normal(0, p.sc_noise, n)
        )
        self.switching_cost = np.clip(sc, 0.005, 0.5)
        self.discount = np.clip(_tier_values(p.discount_by_tier, self.tier) + rng.normal(0, 0.03, n), 0, 0.45)
        n_am = max(3, math.ceil(n / p.accounts_per_manager))
        self.manager = rng.integers(0, n_am, n)
        self.n_managers = n_am
        self.manager_speed = rng.lognormal(0, p.manager_speed_sd, n_am)
        self.frailty = rng.normal(0, p.frailty_sd, n)
        self.frailty_decline = rng.normal(0, p.frailty_sd, n)
        self.term = rng.choice(np.asarray(p.contract_terms_months, dtype=np.int64), n)
        # Accounts there at the start have lived through the burn-in.
        self.entry = np.where(self.arrival == 0, -self.B, self.arrival)
        self.since_month = self.since_day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)

        # Key people: the first is the decision maker, the second a buyer.
        n_contacts = np.clip(1 + rng.poisson(_tier_values(p.contacts_by_tier, self.tier) - 1), 1, 10)
        acc = np.repeat(np.arange(n), n_contacts)
        pos = np.arange(len(acc)) - np.repeat(np.cumsum(n_contacts) - n_contacts, n_contacts)
        role = np.where(pos == 0, 0, np.where(pos == 1, 1, rng.choice([1, 2, 3], len(acc), p=[0.35, 0.45, 0.2])))
        entry = np.maximum(self.month_day[self.arrival[acc]], self.since_day[acc])
        start = np.where(
            self.arrival[acc] > 0,
            self.since_day[acc],
            self.since_day[acc] + (rng.random(len(acc)) * (entry - self.since_day[acc])).astype(np.int64),
        )
        self.c_acc, self.c_role, self.c_start = acc, role, start
        self.c_end = np.full(len(acc), _NEVER, dtype=np.int64)

    def _setup_state(self) -> None:
        p, n, rng = self.p, self.n, self.rng
        self.churn_month = np.full(n, -1, dtype=np.int64)
        self.ramp = rng.integers(1, p.ramp_months_max + 1, n)
        self.residual = rng.uniform(0, p.residual_max, n)
        self.reason = np.full(n, -1, dtype=np.int64)
        self.churn_comp = np.full(n, -1, dtype=np.int64)
        self.recorded = np.zeros(n, dtype=bool)
        self.sow_mult = np.ones(n)
        self.g_left = np.zeros(n, dtype=np.int64)
        self.g_rate = np.zeros(n)
        self.g_mult = np.ones(n)
        self.d_left = np.zeros(n, dtype=np.int64)
        self.d_rate = np.zeros(n)
        self.d_mult = np.ones(n)
        self.temptation = np.zeros(n)
        self.offer_comp = np.full(n, -1, dtype=np.int64)
        self.last_discount = np.full(n, np.nan)
        self.late_share = np.full(n, p.late_share_usual)
        norm = (
            np.asarray(p.exec_visit_rate)
            + 0.6 * np.asarray(p.review_rate)
            + 0.4 * np.asarray(p.joint_development_share) * p.joint_development_rate
        ) / max(1 - p.relationship_decay, 1e-6)
        self.relationship_norm = norm[self.tier]
        self.relationship = self.relationship_norm * rng.uniform(0.5, 1.5, n)
        self.neglect_left = np.zeros(n, dtype=np.int64)
        self.dm_left_month = np.full(n, -(10**6), dtype=np.int64)
        self.other_left = np.zeros(n)
        self.noise = rng.normal(0, p.noise_sd, n)
        self.grievance = np.zeros(n)
        # complaints still able to matter: open, or resolved within the last six months
        self.open_acc = np.array([], dtype=np.int64)
        self.open_day = np.array([], dtype=np.int64)
        self.open_res = np.array([], dtype=np.int64)
        self.open_sev = np.array([], dtype=np.int64)
        self.leader_churn: dict[int, int] = {}  # leader -> the month its orders broke

    # ---- one month

    def step(self, m: int) -> None:
        """Advance the world through month m: market, hazard and churn, events, orders, complaints."""
        for rows in self.collectors:
            rows.enabled = m >= 0
        self._market(m)
        comps, h_switch, h_decline = self._hazard(m)
        at_risk = (self.entry <= m) & (self.churn_month < 0)
        hazard = 1 - (1 - h_switch) * (1 - h_decline)
        idx = np.flatnonzero(at_risk)
        self.hazard.add(
            acc=idx, month=np.full(len(idx), m), hazard=hazard[idx], hazard_switch=h_switch[idx],
            hazard_decline=h_decline[idx], frailty=self.frailty[idx], noise=self.noise[idx],
            **{k: comps[k][idx] for k in (*SWITCH_COMPONENTS, "business_decline")},
            share_of_wallet_multiplier=self.sow_mult[idx],
        )
        churn = at_risk & (self.rng.random(self.n) < hazard)
        if m >= 0:
            self._churn(m, churn, h_switch, h_decline)
        else:
            # In the burn-in a loss is replaced by a fresh relationship with the same profile,
            # so the accounts at the start are a settled population, not a fresh one.
            self._reset(np.flatnonzero(churn))
            churn[:] = False
        active = at_risk & ~churn
        pressure = sum(comps[k] for k in PRESSURE_COMPONENTS)
        self._erode(active, pressure)
        self._competitors(m, active)
        self._contacts(m, active)
        self._phases(active)
        self._relationship(m, active)
        late_lines = self._orders(m)
        self._complaints(m, late_lines)

    def _market(self, m: int) -> None:
        p, rng = self.p, self.rng
        K, R = len(self.cycle), len(self.load)
        self.cycle = p.industry_cycle_ar * self.cycle + rng.normal(0, p.industry_cycle_sd, K)
        # Load: an AR(1) around the usual level, plus a crunch now and then.
        self.load_base = p.capacity_utilisation + p.capacity_ar * (self.load_base - p.capacity_utilisation)
        self.load_base = self.load_base + rng.normal(0, p.capacity_sd, R)
        new_crunch = (self.crunch_left == 0) & (rng.random(R) < p.crunch_rate)
        self.crunch_left[new_crunch] = rng.integers(2, max(p.crunch_months_max, 2) + 1, new_crunch.sum())
        self.load = self.load_base + p.crunch_size * (self.crunch_left > 0)
        self.crunch_left = np.maximum(self.crunch_left - 1, 0)
        new_slip = (self.slip_left == 0) & (rng.random(R) < p.quality_slip_rate)
        self.slip_left[new_slip] = rng.integers(1, 4, new_slip.sum())
        self.slip = self.slip_left > 0
        self.slip_left = np.maximum(self.slip_left - 1, 0)
        self.noise = p.noise_ar * self.noise + rng.normal(0, p.noise_sd * math.sqrt(1 - p.noise_ar**2), self.n)

    def _hazard(self, m: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
        """Log-hazard components from the state at the start of month m, and the two hazards."""
        p, n = self.p, self.n
        first = self.month_day[m]
        # Grievance: each complaint of last month, and each month a complaint stays open, adds to
        # a dissatisfaction that fades slowly; severe and long-open complaints weigh most.
        prev = self.month_day[max(m - 1, -self.B)]
        new = (self.open_day >= prev) & (self.open_day < first)
        is_open = (self.open_day < first) & (self.open_res >= first)
        age = (first - self.open_day[is_open]) / 30.4
        weight = self.open_sev[is_open] / 2 * (1 + 0.5 * np.minimum(age, 6))
        # float even when no complaint is open yet (bincount of nothing is an integer array)
        added = np.bincount(self.open_acc[new], self.open_sev[new] / 2, minlength=n).astype(np.float64)
        added += np.bincount(self.open_acc[is_open], weight, minlength=n)
        self.grievance = p.grievance_decay * self.grievance + added
        slow = (self.open_res < first) & (self.open_res - self.open_day > 45)
        slow_n = np.bincount(self.open_acc[slow], minlength=n)
        keep = self.open_res >= first - 183
        self.open_acc, self.open_day = self.open_acc[keep], self.open_day[keep]
        self.open_res, self.open_sev = self.open_res[keep], self.open_sev[keep]

        lead = np.zeros(len(p.industries))
        for j, c in self.leader_churn.items():
            if c < m:
                k = self.industry[j]
                lead[k] = max(lead[k], self.influence[j] * math.exp(-(m - c - 1) / p.leader_decay_months))
        to_end = self.term - (self.start.astype(np.int64) + m - self.since_month) % self.term
        comps = {
            "share_of_wallet": p.beta_share_of_wallet
            * (p.share_of_wallet_ref - self.share_of_wallet * self.sow_mult)
            / 0.2,
            "switching_cost": p.beta_switching_cost * (p.switching_cost_ref - self.switching_cost) / 0.05,
            "complaints": p.beta_complaints * np.log1p(self.grievance / self.complaint_scale)
            + p.beta_slow_resolution * np.log1p(slow_n),
            "competitor": p.beta_competitor * self.temptation / 0.05,
            "decision_maker": p.beta_decision_maker
            * np.exp(-np.maximum(m - self.dm_left_month - 1, 0) / p.decision_maker_decay_months)
            * (self.dm_left_month < m),
            "contacts": p.beta_contacts * self.other_left,
            "growth_gap": p.beta_growth_gap
            * (self.g_left > 0)
            * np.clip((self.late_share - p.late_share_usual) / 0.1, 0, 2),
            "relationship": p.beta_relationship
            * _tier_values(p.relationship_weight_by_tier, self.tier)
            * np.clip(1 - self.relationship / (0.5 * self.relationship_norm), 0, 1),
            "leader_loss": p.beta_leader_loss * lead[self.industry] * (1 - self.influence),
            "contract_renewal": p.beta_contract_renewal * (to_end <= 3),
        }
        comps["business_decline"] = p.beta_decline * (0.0 - np.log(self.d_mult))
        log_h = math.log(p.base_hazard) + self.frailty + self.noise + sum(comps[k] for k in SWITCH_COMPONENTS)
        h_switch = np.minimum(p.hazard_max, np.exp(log_h))
        log_d = math.log(p.decline_base_hazard) + self.frailty_decline + comps["business_decline"]
        h_decline = np.minimum(p.hazard_max, np.exp(log_d))
        return comps, h_switch, h_decline

    def _churn(self, m: int, churn: np.ndarray, h_switch: np.ndarray, h_decline: np.ndarray) -> None:
        """Accounts that decide to leave in month m: reason, new supplier, signals, outcome."""
        p, rng = self.p, self.rng
        idx = np.flatnonzero(churn)
        if len(idx) == 0:
            return
        self.churn_month[idx] = m
        switch = rng.random(len(idx)) < h_switch[idx] / (h_switch[idx] + h_decline[idx])
        self.reason[idx] = np.where(switch, 0, 1)
        tempted = (self.offer_comp[idx] >= 0) & (self.temptation[idx] > 0.005)
        fallback = self._pick_competitor(self.industry[idx], m)
        self.churn_comp[idx] = np.where(switch, np.where(tempted, self.offer_comp[idx], fallback), -1)
        for j in idx[self.is_leader[idx]]:
            # Followers react when the market sees the leader go: at its break, when its orders
            # have fallen (not at its private decision), so the loss is observable by then.
            self.leader_churn[int(j)] = m + int(self.ramp[j]) - 1
            if self.reason[j] == 0:
                self.boost_comp[self.industry[j]] = self.churn_comp[j]
                self.boost_until[self.industry[j]] = m + p.winner_boost_months

        sw = idx[switch]
        trial = sw[rng.random(len(sw)) < p.trial_order_switch]
        self._signal(trial, m, self.churn_comp[trial], "trial_order", np.full(len(trial), np.nan))
        tender = sw[rng.random(len(sw)) < p.tender_lost_switch]
        tender_month = m + rng.integers(0, self.ramp[tender])
        ok = tender_month < self.M
        tender, tender_month = tender[ok], tender_month[ok]
        gap = np.where(rng.random(len(tender)) < 0.5, -self.last_discount[tender], np.nan)
        for mm in np.unique(tender_month):
            sel = tender_month == mm
            self._signal(tender[sel], int(mm), self.churn_comp[tender[sel]], "tender_lost", gap[sel])

        lost_month = m + self.ramp[idx] - 1 + rng.integers(0, p.outcome_lag_months_max + 1, len(idx))
        record = (rng.random(len(idx)) < p.outcome_recorded_share) & (lost_month < self.M)
        rec = idx[record]
        self.recorded[rec] = True
        lm = lost_month[record]
        day = self.month_day[lm] + (rng.random(len(rec)) * self.days_in[lm]).astype(np.int64)
        comp = np.where(rng.random(len(rec)) < 0.7, self.churn_comp[rec], -1)
        self.outcomes.add(acc=rec, day=day, reason=self.reason[rec], competitor=comp)

    def _reset(self, idx: np.ndarray) -> None:
        """Give accounts a fresh relationship: every changing state back to its start value."""
        p = self.p
        self.grievance[idx] = 0.0
        self.temptation[idx] = 0.0
        self.offer_comp[idx] = -1
        self.sow_mult[idx] = 1.0
        self.g_left[idx], self.g_mult[idx] = 0, 1.0
        self.d_left[idx], self.d_mult[idx] = 0, 1.0
        self.dm_left_month[idx] = -(10**6)
        self.other_left[idx] = 0.0
        self.neglect_left[idx] = 0
        self.relationship[idx] = self.relationship_norm[idx]
        self.late_share[idx] = p.late_share_usual

    def _pick_competitor(self, industry: np.ndarray, m: int) -> np.ndarray:
        """A competitor for each account: the industry's strong ones, or one that is pressing."""
        rng = self.rng
        cum = np.cumsum(self.comp_weights[industry], axis=1)
        pick = (rng.random(len(industry))[:, None] > cum).sum(axis=1)
        pick = np.minimum(pick, cum.shape[1] - 1)
        pressing = (self.boost_until[industry] >= m) & (rng.random(len(industry)) < 0.6)
        return np.where(pressing, self.boost_comp[industry], pick)

    def _signal(self, acc: np.ndarray, m: int, comp: np.ndarray, kind: str, gap: np.ndarray) -> None:
        day = self.month_day[m] + (self.rng.random(len(acc)) * self.days_in[m]).astype(np.int64)
        self.signals.add(acc=acc, day=day, competitor=comp, kind=np.full(len(acc), kind), gap=gap)

    def _erode(self, active: np.ndarray, pressure: np.ndarray) -> None:
        """Share of wallet drifts to competitors under pressure and recovers when it eases."""
        p = self.p
        target = np.exp(-p.erosion * pressure)
        self.sow_mult = np.where(active, self.sow_mult + p.erosion_speed * (target - self.sow_mult), self.sow_mult)

    def _competitors(self, m: int, active: np.ndarray) -> None:
        p, rng, n = self.p, self.rng, self.n
        boost = np.where(self.boost_until[self.industry] >= m, p.winner_boost, 1.0)
        rate = p.offer_rate * self.size**p.offer_size_elasticity * self.contest[self.industry] * boost
        offer = active & (rng.random(n) < np.minimum(rate, 0.5))
        idx = np.flatnonzero(offer)
        discount = rng.gamma(p.offer_discount_shape, p.offer_discount_mean / p.offer_discount_shape, len(idx))
        comp = self._pick_competitor(self.industry[idx], m)
        self.temptation *= p.temptation_decay
        pull = np.maximum(discount - self.switching_cost[idx], 0)
        stronger = pull >= self.temptation[idx]
        self.temptation[idx] = np.maximum(self.temptation[idx], pull)
        self.offer_comp[idx] = np.where(stronger, comp, self.offer_comp[idx])
        self.last_discount[idx] = discount
        noise = rng.normal(0, p.price_gap_noise, len(idx))
        for kind, share, gap in [
            ("visit", p.visit_with_offer, np.full(len(idx), np.nan)),
            ("quote", p.quote_recorded, -discount + noise),
            ("price_cut", p.price_cut_share, -discount * rng.uniform(0.5, 1.0, len(idx))),
        ]:
            sel = rng.random(len(idx)) < share
            self._signal(idx[sel], m, comp[sel], kind, np.round(gap[sel], 3))
        # Signals that come to nothing, and trial orders of accounts an offer still tempts.
        bg_rate = p.background_signal_rate * self.size**0.3 * self.contest[self.industry]
        bg = np.flatnonzero(active & (rng.random(n) < bg_rate))
        kinds = np.where(rng.random(len(bg)) < 0.7, "visit", "other")
        comp = self._pick_competitor(self.industry[bg], m)
        for kind in ("visit", "other"):
            sel = kinds == kind
            self._signal(bg[sel], m, comp[sel], kind, np.full(sel.sum(), np.nan))
        trial = np.flatnonzero(active & (self.temptation > 0.01) & (rng.random(n) < p.trial_order_rate_tempted))
        self._signal(trial, m, self.offer_comp[trial], "trial_order", np.full(len(trial), np.nan))

    def _contacts(self, m: int, active: np.ndarray) -> None:
        p, rng = self.p, self.rng
        self.other_left *= 0.85
        present = (self.c_end == _NEVER) & active[self.c_acc] & (self.c_start < self.month_day[m + 1])
        leave = np.flatnonzero(present & (rng.random(len(self.c_acc)) < p.contact_leave_rate))
        if len(leave) == 0:
            return
        end = self.month_day[m] + (rng.random(len(leave)) * self.days_in[m]).astype(np.int64)
        self.c_end[leave] = end
        dm = self.c_role[leave] == 0
        self.dm_left_month[self.c_acc[leave[dm]]] = m
        np.add.at(self.other_left, self.c_acc[leave[~dm]], 1.0)
        # A successor in the same role, after a gap.
        start = end + rng.integers(7, 120, len(leave))
        ok = start < self.end_day
        self.c_acc = np.concatenate([self.c_acc, self.c_acc[leave[ok]]])
        self.c_role = np.concatenate([self.c_role, self.c_role[leave[ok]]])
        self.c_start = np.concatenate([self.c_start, start[ok]])
        self.c_end = np.concatenate([self.c_end, np.full(ok.sum(), _NEVER, dtype=np.int64)])

    def _phases(self, active: np.ndarray) -> None:
        """Growth and decline phases of the accounts' own business."""
        p, rng, n = self.p, self.rng, self.n
        start = active & (self.g_left == 0) & (rng.random(n) < p.growth_start_rate)
        self.g_left[start] = rng.integers(p.growth_months_min, p.growth_months_max + 1, start.sum())
        self.g_rate[start] = rng.uniform(p.growth_rate_min, p.growth_rate_max, start.sum())
        growing = active & (self.g_left > 0)
        self.g_mult[growing] *= 1 + self.g_rate[growing]
        self.g_left[growing] -= 1
        start = active & (self.d_left == 0) & (self.d_mult == 1) & (rng.random(n) < p.decline_start_rate)
        self.d_left[start] = rng.integers(p.decline_months_min, p.decline_months_max + 1, start.sum())
        self.d_rate[start] = rng.uniform(p.decline_rate_min, p.decline_rate_max, start.sum())
        declining = active & (self.d_left > 0)
        self.d_mult[declining] *= 1 - self.d_rate[declining]
        self.d_left[declining] -= 1

    def _relationship(self, m: int, active: np.ndarray) -> None:
        p, rng, n = self.p, self.rng, self.n
        start = active & (self.neglect_left == 0) & (rng.random(n) < p.neglect_rate)
        self.neglect_left[start] = rng.integers(p.neglect_months_min, p.neglect_months_max + 1, start.sum())
        attention = np.where(self.neglect_left > 0, p.neglect_attention, 1.0)
        self.neglect_left = np.maximum(self.neglect_left - 1, 0)
        tier = self.tier
        exec_visit = active & (rng.random(n) < _tier_values(p.exec_visit_rate, tier) * attention)
        review = active & (rng.random(n) < _tier_values(p.review_rate, tier) * attention)
        training = active & (rng.random(n) < p.training_rate)
        joint = active & self.joint_dev & (rng.random(n) < p.joint_development_rate * attention)
        sales = np.where(active, rng.poisson(_tier_values(p.sales_visit_rate, tier) * attention), 0)
        self.relationship = np.where(
            active,
            p.relationship_decay * self.relationship + 1.0 * exec_visit + 0.6 * review + 0.4 * joint,
            self.relationship,
        )
        for kind, acc in [
            ("exec_visit", np.flatnonzero(exec_visit)),
            ("business_review", np.flatnonzero(review)),
            ("training", np.flatnonzero(training)),
            ("joint_development", np.flatnonzero(joint)),
            ("sales_visit", np.repeat(np.arange(n), sales)),
        ]:
            day = self.month_day[m] + (rng.random(len(acc)) * self.days_in[m]).astype(np.int64)
            self.interactions.add(acc=acc, day=day, kind=np.full(len(acc), kind))

    def _orders(self, m: int) -> np.ndarray:
        """Order lines of month m; returns the number of late lines per account."""
        p, rng, n = self.p, self.rng, self.n
        exists = self.entry <= m
        age = m - self.entry
        ramp_in = np.where(age == 0, 0.5, np.where(age == 1, 0.8, 1.0))
        k = m - self.churn_month
        r = self.ramp
        after = np.maximum(k - r + 1, 0)
        leaving = np.where(k < r, 1 - (1 - self.residual) * (k + 1) / r, self.residual * p.residual_decay**after)
        leaving = np.where(self.churn_month >= 0, leaving, 1.0)
        volume = (
            self.season[self.industry, self.cal_month[m]]
            * np.exp(self.cycle[self.industry])
            * self.g_mult
            * self.d_mult
            * self.sow_mult
            * leaving
            * ramp_in
        )
        lam = np.where(exists, self.base_lines * volume, 0.0)
        shape = p.order_dispersion
        counts = rng.negative_binomial(shape, shape / (shape + lam))
        acc = np.repeat(np.arange(n), counts)
        nl = len(acc)
        day = self.month_day[m] + (rng.random(nl) * self.days_in[m]).astype(np.int64)
        order = np.argsort(day, kind="stable")
        acc, day = acc[order], day[order]
        prod = np.minimum((rng.random(nl)[:, None] > self.mix_cum[acc]).sum(axis=1), len(self.unit_prices) - 1)
        custom = rng.random(nl) < self.custom_share[acc]
        price_index = (1 + p.price_inflation_yearly) ** (m / 12)
        sigma = p.line_value_sigma
        net_target = self.line_value[acc] * price_index * rng.lognormal(-(sigma**2) / 2, sigma, nl)
        disc = np.clip(self.discount[acc] + rng.normal(0, p.discount_noise, nl), 0, 0.6)
        unit = self.unit_prices[prod] * price_index * np.where(custom, p.custom_premium, 1.0)
        qty = np.maximum(1.0, np.round(net_target / (1 - disc) / unit))
        list_amount = np.round(qty * unit, 2)
        net = np.round(list_amount * (1 - disc), 2)
        lead = np.where(custom, p.lead_days_custom, p.lead_days_standard) * rng.gamma(4.0, 0.25, nl)
        promised = day + np.maximum(1, np.round(lead)).astype(np.int64)
        growing = self.g_left[acc] > 0
        overload = self.load[self.region[acc]] - 0.88
        logit = p.late_logit + p.late_utilisation_slope * overload + p.late_growth_logit * growing
        late = rng.random(nl) < _sigmoid(logit)
        delay = 1 + rng.exponential(p.late_days_mean, nl).astype(np.int64)
        delivered = np.where(late, promised + delay, promised - rng.integers(0, 3, nl))
        # Compact types: the large world holds about 20 million of these lines.
        self.orders.add(acc=acc.astype(np.int32), day=day.astype(np.int32), prod=prod.astype(np.int8),
                        qty=qty.astype(np.float32), list=list_amount, net=net, custom=custom,
                        promised=promised.astype(np.int32), delivered=delivered.astype(np.int32))

        # Returns: part of a line comes back, more often while the region's quality slips.
        ret_rate = p.return_rate * np.where(self.slip[self.region[acc]], p.quality_slip_factor / 2, 1.0)
        ret = np.flatnonzero(rng.random(nl) < ret_rate)
        ret_day = day[ret] + rng.integers(5, 45, len(ret))
        ok = ret_day < self.end_day
        ret, ret_day = ret[ok], ret_day[ok]
        back = np.maximum(1.0, np.round(qty[ret] * rng.uniform(0.2, 1.0, len(ret))))
        none = np.full(len(ret), -1, dtype=np.int64)
        self.orders.add(acc=acc[ret].astype(np.int32), day=ret_day.astype(np.int32), prod=prod[ret].astype(np.int8),
                        qty=(-back).astype(np.float32), list=np.full(len(ret), np.nan),
                        net=-np.round(net[ret] * back / qty[ret], 2), custom=custom[ret],
                        promised=none.astype(np.int32), delivered=none.astype(np.int32))

        lines = np.bincount(acc, minlength=n)
        late_lines = np.bincount(acc, late, minlength=n)
        has = lines > 0
        self.late_share[has] = 0.5 * self.late_share[has] + 0.5 * late_lines[has] / lines[has]
        return late_lines

    def _complaints(self, m: int, late_lines: np.ndarray) -> None:
        p, rng, n = self.p, self.rng, self.n
        exists = self.entry <= m
        rate_late = p.complaints_per_late_line * late_lines**p.late_line_exponent
        slip = np.where(self.slip[self.region], p.quality_slip_factor, 1.0)
        rate_quality = p.quality_complaint_rate * self.size**0.3 * slip
        rate_other = p.other_complaint_rate * self.size**0.2
        total = np.where(exists, rate_late + rate_quality + rate_other, 0.0)
        counts = rng.poisson(total)
        acc = np.repeat(np.arange(n), counts)
        nc = len(acc)
        if nc == 0:
            return
        u = rng.random(nc) * total[acc]
        # 0 delivery, 1 quality, 2 service, 3 price, 4 other
        other = rng.choice([2, 3, 4], nc, p=[0.5, 0.3, 0.2])
        category = np.where(u < rate_late[acc], 0, np.where(u < rate_late[acc] + rate_quality[acc], 1, other))
        sev_p = np.array([[0.55, 0.35, 0.10], [0.35, 0.40, 0.25], [0.6, 0.3, 0.1]])[np.minimum(category, 2)]
        severity = 1 + (rng.random(nc)[:, None] > np.cumsum(sev_p, axis=1)).sum(axis=1)
        severity = np.minimum(severity, 3)
        opened = self.month_day[m] + (rng.random(nc) * self.days_in[m]).astype(np.int64)
        median = p.resolve_median_days * self.manager_speed[self.manager[acc]] * np.array([0.8, 1.0, 1.4])[severity - 1]
        days = rng.lognormal(np.log(median), p.resolve_sigma)
        stuck = rng.random(nc) < p.stuck_share
        days = np.where(stuck, rng.uniform(90, max(p.stuck_days_max, 91), nc), days)
        resolved = opened + np.maximum(0, np.round(days)).astype(np.int64)
        self.complaints.add(acc=acc, opened=opened, resolved=resolved, category=category, severity=severity)
        self.open_acc = np.concatenate([self.open_acc, acc])
        self.open_day = np.concatenate([self.open_day, opened])
        self.open_res = np.concatenate([self.open_res, resolved])
        self.open_sev = np.concatenate([self.open_sev, severity])


# --------------------------------------------------------------------------------------------
# From the simulation to tables


def _text(labels: Any, codes: np.ndarray) -> pd.Series:
    """A pandas `str` column from integer codes into `labels` (code -1 = missing)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    codes = np.asarray(codes, dtype=np.int64)
    taken = pc.take(pa.array(list(labels), type=pa.string()), pa.array(codes, mask=codes < 0))
    return pd.Series(taken, dtype="str")


def _ids(prefix: str, count: int, width: int | None = None) -> pd.Series:
    """Keys like A00001 ... as a `str` column."""
    import pyarrow as pa
    import pyarrow.compute as pc

    width = width or len(str(count))
    numbers = pc.cast(pa.array(np.arange(1, count + 1)), pa.string())
    return pd.Series(pc.binary_join_element_wise(prefix, pc.utf8_lpad(numbers, width, "0"), ""), dtype="str")


def _dates(days: np.ndarray, missing: np.ndarray | None = None) -> pd.Series:
    """datetime64[ns] from day numbers; NaT where `missing`."""
    values = np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[ns]")
    if missing is not None:
        values[missing] = np.datetime64("NaT")
    return pd.Series(values)


def _missing(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    return rng.random(n) < share


_NAME_A = np.array(["Alder", "Brant", "Corvin", "Dahl", "Elm", "Falk", "Grove", "Hald", "Iver", "Jarl", "Kern",
                    "Lund", "Marr", "Nord", "Orr", "Pike", "Quarry", "Rask", "Stein", "Thal", "Ulm", "Vale",
                    "Wend", "York"])
_NAME_B = np.array(["", "berg", "field", "ford", "mark", "stone", "wood", "haven", "ridge", "brook"])
_NAME_C = np.array(["Industries", "Works", "Group", "Manufacturing", "Systems", "Holding", "Technik", "Process",
                    "Fabrication", "Engineering"])


_PLACES = np.array(["Aachen", "Bremen", "Celle", "Dortmund", "Essen", "Fulda", "Gotha", "Hagen", "Ingolstadt",
                    "Jena", "Kassel", "Linz", "Mainz", "Neuss", "Olten", "Passau", "Regensburg", "Siegen", "Trier",
                    "Ulm", "Verden", "Worms", "Zug"])


def _unique_names(names: np.ndarray) -> np.ndarray:
    """Company names made unique as real ones are: a repeated "Dahlwood Group" gets a place
    ("Dahlwood Group Bremen"), another place when that is taken (then a number). Draws nothing
    from the world's random stream: everything else stays the same."""
    out = names.astype(object)
    seen: set[str] = set()
    for i, name in enumerate(out):
        candidate, k = name, 0
        while candidate in seen:
            place = _PLACES[(i + k) % len(_PLACES)]
            candidate = f"{name} {place}" if k < len(_PLACES) else f"{name} {place} {k // len(_PLACES) + 1}"
            k += 1
        seen.add(candidate)
        out[i] = candidate
    return out.astype(str)


def _build_tables(sim: _Simulation, rng: np.random.Generator, today: pd.Timestamp) -> dict[str, pd.DataFrame]:
    p, n = sim.p, sim.n
    miss = p.missing_share
    account_ids = _ids("A", n, max(5, len(str(n))))
    ids = account_ids.to_numpy()

    def ref(acc: np.ndarray) -> pd.Series:
        return _text(ids, acc)

    def pick(words: np.ndarray) -> np.ndarray:
        return words[rng.integers(0, len(words), n)]

    names = pd.Series(_unique_names(np.char.add(np.char.add(np.char.add(pick(_NAME_A), pick(_NAME_B)), " "),
                                                pick(_NAME_C))), dtype="str")
    employees = np.round(np.clip(120 * sim.size**0.8 * rng.lognormal(0, 0.4, n), 8, 200000))
    # The contract that runs at the extract; never dated after today.
    last_month = sim.start.astype(np.int64) + sim.M
    k = np.ceil((last_month - sim.since_month) / sim.term)
    end_month = sim.since_month + np.maximum(k, 1).astype(np.int64) * sim.term
    today_month = np.datetime64(today.strftime("%Y-%m"), "M").astype(np.int64)
    end_month = np.where(end_month > today_month, end_month - sim.term, end_month)
    contract_end = end_month.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) - 1
    accounts = pd.DataFrame(
        {
            "account_id": account_ids,
            "name": names,
            "industry": _text(p.industries, np.where(_missing(rng, n, miss / 5), -1, sim.industry)),
            "region": _text(p.regions, np.where(_missing(rng, n, miss), -1, sim.region)),
            "tier": _text(TIERS, sim.tier),
            "account_manager": _text([f"AM-{i + 1:03d}" for i in range(sim.n_managers)],
                                     np.where(_missing(rng, n, miss), -1, sim.manager)),
            "since": _dates(sim.since_day, _missing(rng, n, miss)),
            "employees": pd.array(np.where(_missing(rng, n, miss), np.nan, employees), dtype="Int64"),
            "category_spend": pd.Series(np.where(_missing(rng, n, 2 * miss), np.nan, np.round(sim.category_spend, -2))),
            "contract_end": _dates(contract_end, _missing(rng, n, 2 * miss)),
            "influence": pd.Series(np.where(_missing(rng, n, miss), np.nan, np.round(sim.influence, 3))),
        }
    )

    o = sim.orders.get()
    nl = len(o["acc"])
    no_promise = (o["promised"] < 0) | (o["promised"] > sim.today_day) | _missing(rng, nl, miss / 2)
    # Deliveries after the extract are not known yet; some are never keyed in.
    no_delivery = (o["delivered"] < 0) | (o["delivered"] >= sim.end_day) | no_promise
    no_delivery |= _missing(rng, nl, p.delivered_missing_share)
    prod = np.where(_missing(rng, nl, miss / 10), -1, o["prod"])
    custom = pd.array(o.pop("custom").astype(bool), dtype="boolean")
    custom[_missing(rng, nl, miss / 10)] = pd.NA
    # Column by column, releasing each source array, to keep the peak memory of big worlds low.
    columns = {
        "order_id": _ids("L", nl, max(7, len(str(nl)))),
        "account_id": ref(o.pop("acc")),
        "order_date": _dates(o.pop("day")),
        "net_amount": pd.Series(o.pop("net"), dtype="float64"),
        "product_line": _text(p.product_lines, prod),
        "quantity": pd.Series(o.pop("qty"), dtype="float64"),
        "list_amount": pd.Series(o.pop("list"), dtype="float64"),
        "custom": pd.Series(custom),
        "promised_date": _dates(np.where(no_promise, 0, o.pop("promised")), no_promise),
        "delivered_date": _dates(np.where(no_delivery, 0, o.pop("delivered")), no_delivery),
    }
    del prod, custom, no_promise, no_delivery
    orders = pd.DataFrame(columns, copy=False)
    del columns

    c = sim.complaints.get()
    nc = len(c["acc"])
    still_open = c["resolved"] >= sim.end_day
    severity = np.where(_missing(rng, nc, miss), np.nan, c["severity"])
    complaints = pd.DataFrame(
        {
            "complaint_id": _ids("C", nc, 6),
            "account_id": ref(c["acc"]),
            "opened_at": _dates(c["opened"]),
            "resolved_at": _dates(np.where(still_open, 0, c["resolved"]), still_open),
            "category": _text(("delivery", "quality", "service", "price", "other"),
                              np.where(_missing(rng, nc, miss), -1, c["category"])),
            "severity": pd.array(severity, dtype="Int64"),
        }
    )

    s = sim.signals.get()
    order = np.lexsort((s["acc"], s["day"]))
    s = {k: v[order] for k, v in s.items()}
    ns = len(order)
    comp = np.where(_missing(rng, ns, 2 * miss), -1, s["competitor"].astype(np.int64))
    signals = pd.DataFrame(
        {
            "signal_id": _ids("S", ns, 6),
            "account_id": ref(s["acc"]),
            "observed_at": _dates(s["day"]),
            "competitor": _text(p.competitors, comp),
            "kind": pd.Series(s["kind"].astype(str), dtype="str"),
            "price_gap": s["gap"].astype(float),
        }
    )

    i = sim.interactions.get()
    order = np.lexsort((i["acc"], i["day"]))
    interactions = pd.DataFrame(
        {
            "account_id": ref(i["acc"][order]),
            "occurred_at": _dates(i["day"][order]),
            "kind": pd.Series(i["kind"][order].astype(str), dtype="str"),
        }
    )

    nk = len(sim.c_acc)
    gone = (sim.c_end != _NEVER) & (sim.c_end < sim.end_day)
    no_start = _missing(rng, nk, 2 * miss) & (sim.c_start < sim.month_day[0])
    contacts = pd.DataFrame(
        {
            "contact_id": _ids("P", nk, 6),
            "account_id": ref(sim.c_acc),
            "role": _text(("decision_maker", "buyer", "technical", "other"), sim.c_role),
            "start_date": _dates(np.where(no_start, 0, sim.c_start), no_start),
            "end_date": _dates(np.where(gone, sim.c_end, 0), ~gone),
        }
    )

    out = sim.outcomes.get()
    order = np.argsort(out["day"], kind="stable")
    no_reason = _missing(rng, len(order), miss)
    outcomes = pd.DataFrame(
        {
            "account_id": ref(out["acc"][order]),
            "lost_at": _dates(out["day"][order]),
            "reason": _text(REASONS, np.where(no_reason, -1, out["reason"][order])),
            "competitor": _text(p.competitors, out["competitor"][order]),
        }
    )
    return {
        "accounts": accounts,
        "orders": orders,
        "complaints": complaints,
        "competitor_signals": signals,
        "interactions": interactions,
        "contacts": contacts,
        "outcomes": outcomes,
    }


def _build_truth(sim: _Simulation, account_ids: pd.Series) -> dict[str, pd.DataFrame]:
    p = sim.p
    ids = account_ids.to_numpy()
    h = sim.hazard.get()
    month_starts = np.arange(sim.start, sim.start + sim.M, dtype="datetime64[M]").astype("datetime64[ns]")
    hazard = pd.DataFrame({"account_id": _text(ids, h.pop("acc")), "month": month_starts[h.pop("month")]})
    for name, values in h.items():
        hazard[name] = values.astype(float)

    churned = sim.churn_month >= 0
    month_or_nat = np.where(churned, sim.churn_month, 0)
    churn_month = pd.Series(month_starts[month_or_nat]).where(churned)
    brk = np.minimum(month_or_nat + sim.ramp - 1, sim.M - 1)
    accounts = pd.DataFrame(
        {
            "account_id": account_ids,
            "industry": _text(p.industries, sim.industry),  # the true one (the table misses a few)
            "arrival_month": month_starts[sim.arrival],
            "churn_month": churn_month,
            "churn_reason": _text(REASONS, sim.reason),
            "churn_competitor": _text(p.competitors, sim.churn_comp),
            "break_month": pd.Series(month_starts[brk]).where(churned),
            "residual_share": np.where(churned, sim.residual, np.nan),
            "outcome_recorded": sim.recorded,
            "switching_cost": sim.switching_cost,
            "share_of_wallet": sim.share_of_wallet,
            "custom_share": sim.custom_share,
            "joint_development": sim.joint_dev,
            "product_lines": sim.breadth,
            "tenure_years_at_entry": sim.tenure_at_entry,
            "expected_monthly_revenue": sim.base_revenue,
            "influence": sim.influence,
            "is_leader": sim.is_leader,
            "frailty": sim.frailty,
        }
    )
    return {"hazard": hazard, "accounts": accounts}


def generate_world(
    accounts: int = 2000,
    months: int = 48,
    start: str = "2021-01",
    seed: int = 42,
    params: Optional[WorldParams] = None,
    today: Any = None,
    *,
    progress: bool = False,
) -> World:
    """Simulate the world and return its tables and ground truth (same seed, same world).

    `accounts` is the number of accounts in the `accounts` table: those there at `start` plus
    the `params.new_account_share` of them that arrive later. The world is cut short so that it
    ends before `today`'s month (default: the real date) and never holds a later date.
    """
    p = params or WorldParams()
    for name, value in (("accounts", accounts), ("months", months), ("start", start), ("seed", seed)):
        check_field(SyntheticDataConfig, name, value, f"data.{name}")
    check(p, "data.world")
    first = np.datetime64(str(start).strip(), "M")
    now = pd.Timestamp(parse_today(today))
    room = int(np.datetime64(now.strftime("%Y-%m"), "M").astype(np.int64) - first.astype(np.int64))
    if room < 1:
        raise ConfigError(f"data.start must be a month before today's ({now:%Y-%m}); got {start!r}")
    if months > room:
        log.warning("data.months=%d would run past today (%s); the world stops after %d months", months,
                    now.date(), room)
        months = room

    rng = np.random.default_rng(seed)
    sim = _Simulation(int(accounts), int(months), first, p, rng, now)
    steps: Any = range(-p.burn_in_months, months)
    if progress:
        from churnml.progress import track

        steps = track(steps, "Simulating months", total=months + p.burn_in_months)
    for m in steps:
        sim.step(m)
    tables = {name: coded_as_categories(name, frame) for name, frame in _build_tables(sim, rng, now).items()}
    truth = _build_truth(sim, tables["accounts"]["account_id"])
    start_month = pd.Timestamp(str(first))
    return World(tables=tables, truth=truth, start=start_month, months=int(months), seed=int(seed), params=p)


def oracle_scores(truth: Dict[str, pd.DataFrame], snapshots: Any, horizon: int) -> pd.DataFrame:
    """The best possible churn score at each snapshot: `1 - (1 - hazard_t) ** horizon`.

    Returns `account_id, snapshot, oracle` for every account that exists at the snapshot.
    An account that already decided to leave before t scores 1.0 (it is leaving; only the
    data does not show it fully yet).
    """
    if horizon < 1:
        raise ConfigError(f"horizon must be at least 1 month; got {horizon!r}")
    hazard, accounts = truth["hazard"], truth["accounts"]
    snaps = pd.DatetimeIndex(pd.to_datetime(list(snapshots))).to_period("M").to_timestamp()
    at = hazard.loc[hazard["month"].isin(snaps), ["account_id", "month", "hazard"]]
    at = at.rename(columns={"month": "snapshot"})
    at = at.assign(oracle=1 - (1 - at.pop("hazard")) ** horizon)
    gone = []
    churned = accounts.loc[accounts["churn_month"].notna(), ["account_id", "churn_month"]]
    for t in snaps:
        ids = churned.loc[churned["churn_month"] < t, "account_id"]
        gone.append(pd.DataFrame({"account_id": ids, "snapshot": t, "oracle": 1.0}))
    out = pd.concat([at, *gone], ignore_index=True)
    out["snapshot"] = out["snapshot"].astype("datetime64[ns]")
    return out.sort_values(["snapshot", "account_id"], ignore_index=True)


def oracle_from_truth(truth: Dict[str, pd.DataFrame], horizon: int):
    """A function of held-out rows (`account_id, snapshot`) returning the oracle's churn score."""

    def oracle(rows: pd.DataFrame) -> np.ndarray:
        scores = oracle_scores(truth, rows["snapshot"].unique(), horizon)
        keys = rows[["account_id", "snapshot"]].astype({"account_id": str})
        merged = keys.merge(scores, on=["account_id", "snapshot"], how="left")
        missing = int(merged["oracle"].isna().sum())
        if missing:
            log.warning("oracle: %d held-out rows have no true hazard; scored 0", missing)
        return merged["oracle"].fillna(0.0).to_numpy()

    return oracle
