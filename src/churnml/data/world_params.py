"""The parameters of the synthetic world (`data.world` in the config), with their constraints.

Free of every other churnml module, so that the config can hold them without importing the
simulation (`churnml.data.synthetic`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, List

from churnml.constraints import Rule, items, number, share, whole

_BY_TIER = items("three non-negative numbers (key, major, standard)", number(at_least=0), exactly=3)
_NON_EMPTY = items("a non-empty list", Rule("anything", lambda v: True), least=1)


@dataclass
class WorldParams:
    """Parameters of the simulated world; the defaults are the calibrated world.

    Rates are per month unless a name says otherwise; lists by tier are (key, major, standard).
    """

    # --- accounts
    new_account_share: float = 0.3  # share of the accounts that arrive after the start
    median_monthly_revenue: float = 20000.0  # revenue of the median account with us
    size_sigma: float = 1.45  # log-normal spread of account size (sets revenue concentration)
    industries: List[str] = field(
        default_factory=lambda: [
            "automotive",
            "chemicals",
            "food_beverage",
            "machinery",
            "energy",
            "construction",
            "electronics",
            "pharma",
        ]
    )
    # how hard competitors fight for each industry (same order as `industries`)
    industry_contest: List[float] = field(
        default_factory=lambda: [1.5, 1.1, 0.8, 1.3, 1.0, 0.9, 1.4, 0.7]
    )
    regions: List[str] = field(default_factory=lambda: ["north", "south", "east", "west", "central"])
    key_share: float = 0.2  # the largest 20 % of accounts are key accounts
    major_share: float = 0.3
    leaders_max: int = 2  # each industry has 1..leaders_max leaders among its largest accounts
    leader_influence_min: float = 0.75
    tenure_mean_years: float = 6.0  # relationship age at the start, for accounts already there
    share_of_wallet_min: float = 0.2  # true share of wallet lies between these
    share_of_wallet_max: float = 0.9
    category_spend_noise: float = 0.15  # our estimate of category spend is this far off (log sd)
    contract_terms_months: List[int] = field(default_factory=lambda: [12, 24, 36])
    accounts_per_manager: int = 50
    competitors: List[str] = field(
        default_factory=lambda: ["Nordtech", "Axion Industrial", "Kessler & Co", "Meridian Supply", "Ostara"]
    )

    # --- orders
    product_lines: List[str] = field(
        default_factory=lambda: ["bearings", "seals", "fasteners", "hydraulics", "drives", "tooling"]
    )
    unit_prices: List[float] = field(default_factory=lambda: [45.0, 12.0, 0.8, 310.0, 950.0, 120.0])
    median_lines_per_month: float = 25.0  # order lines of the median account per month
    lines_size_elasticity: float = 0.55  # lines grow as size ** elasticity; line value the rest
    order_dispersion: float = 1.5  # negative-binomial shape of monthly line counts (lower = lumpier)
    line_value_sigma: float = 0.7
    seasonality_amplitude: float = 0.15
    industry_cycle_sd: float = 0.04  # monthly shocks of each industry's demand (log scale)
    industry_cycle_ar: float = 0.9
    custom_share_mean: float = 0.18  # share of an account's lines that are customised products
    custom_premium: float = 1.3  # list price of a customised line relative to standard
    discount_by_tier: List[float] = field(default_factory=lambda: [0.18, 0.12, 0.06])
    discount_noise: float = 0.03
    price_inflation_yearly: float = 0.03
    lead_days_standard: float = 10.0
    lead_days_custom: float = 35.0
    capacity_utilisation: float = 0.82  # our plants' usual load per region
    capacity_sd: float = 0.03
    capacity_ar: float = 0.8
    crunch_rate: float = 0.03  # a region's capacity crunch starts with this probability
    crunch_size: float = 0.12  # extra load during a crunch
    crunch_months_max: int = 6
    late_logit: float = -2.6  # late share of lines at usual load: about 7 %
    late_utilisation_slope: float = 14.0  # per unit of load above 0.88
    late_growth_logit: float = 1.5  # an account growing fast is served later
    late_days_mean: float = 9.0
    return_rate: float = 0.01  # share of lines partly returned (a negative line)

    # --- complaints
    complaints_per_late_line: float = 0.075  # times late lines ** late_line_exponent
    late_line_exponent: float = 0.6  # complaints grow less than proportionally with late lines
    quality_complaint_rate: float = 0.02
    quality_slip_rate: float = 0.03  # a region's quality slip starts with this probability
    quality_slip_factor: float = 6.0  # quality complaints and returns multiply by this in a slip
    other_complaint_rate: float = 0.01
    resolve_median_days: float = 18.0
    resolve_sigma: float = 0.8
    stuck_share: float = 0.2  # complaints that take months
    stuck_days_max: int = 300
    manager_speed_sd: float = 0.35  # some account managers resolve complaints slower

    # --- competitors
    offer_rate: float = 0.025  # a competitor makes an offer, for an account of median size
    offer_size_elasticity: float = 0.15
    offer_discount_mean: float = 0.09  # discount a competitor offers (gamma distributed)
    offer_discount_shape: float = 3.0
    temptation_decay: float = 0.85  # an offer's pull fades by this factor each month
    visit_with_offer: float = 0.5  # probabilities that an offer leaves each kind of signal
    quote_recorded: float = 0.95  # most offers reach us as a quote with a price gap
    price_cut_share: float = 0.15
    price_gap_noise: float = 0.015
    background_signal_rate: float = 0.01  # visits and other signals that come to nothing
    trial_order_rate_tempted: float = 0.06
    trial_order_switch: float = 0.45  # a switcher places a trial order with the new supplier
    tender_lost_switch: float = 0.3
    winner_boost: float = 1.5  # a competitor that won an industry leader presses harder there
    winner_boost_months: int = 12

    # --- switching cost (true, per account, as a price discount fraction)
    sc_base: float = 0.01
    sc_custom: float = 0.15  # times the custom share
    sc_joint_development: float = 0.05
    sc_tenure: float = 0.04  # times min(1, tenure years / 10)
    sc_breadth: float = 0.04  # times (product lines bought - 1) / (product lines - 1)
    sc_noise: float = 0.01

    # --- relationship
    exec_visit_rate: List[float] = field(default_factory=lambda: [0.2, 0.08, 0.015])
    review_rate: List[float] = field(default_factory=lambda: [0.3, 0.12, 0.03])
    sales_visit_rate: List[float] = field(default_factory=lambda: [1.5, 0.8, 0.3])
    training_rate: float = 0.02
    joint_development_share: List[float] = field(default_factory=lambda: [0.25, 0.1, 0.03])
    joint_development_rate: float = 0.35  # monthly activity of an account with a programme
    relationship_decay: float = 0.85
    neglect_rate: float = 0.012  # an account's attention drops (manager change, neglect)
    neglect_months_min: int = 6
    neglect_months_max: int = 18
    neglect_attention: float = 0.15
    relationship_weight_by_tier: List[float] = field(default_factory=lambda: [1.0, 0.7, 0.3])
    contacts_by_tier: List[float] = field(default_factory=lambda: [5.0, 3.5, 2.5])
    contact_leave_rate: float = 0.012

    # --- growth and decline phases
    growth_start_rate: float = 0.008
    growth_months_min: int = 6
    growth_months_max: int = 18
    growth_rate_min: float = 0.02
    growth_rate_max: float = 0.06
    decline_start_rate: float = 0.005
    decline_months_min: int = 6
    decline_months_max: int = 24
    decline_rate_min: float = 0.02
    decline_rate_max: float = 0.06

    # --- hazard (see the module docstring for the formula)
    base_hazard: float = 0.0008
    decline_base_hazard: float = 0.001
    frailty_sd: float = 0.3  # unobserved, lasting differences in loyalty
    noise_sd: float = 0.6  # unobserved month-to-month mood, an AR(1) process
    noise_ar: float = 0.5
    hazard_max: float = 0.6
    beta_share_of_wallet: float = 0.7  # per 20 points of share of wallet below share_of_wallet_ref
    share_of_wallet_ref: float = 0.55
    beta_switching_cost: float = 0.5  # per 5 points of switching cost below switching_cost_ref
    switching_cost_ref: float = 0.08
    beta_complaints: float = 1.1  # times log(1 + grievance): complaints, weighted by severity and age
    grievance_decay: float = 0.75  # the grievance a complaint leaves fades by this factor a month
    beta_slow_resolution: float = 0.3  # times log(1 + complaints resolved after 45+ days, last 6 m)
    beta_competitor: float = 3.0  # per 5 points of discount beyond the switching cost (decisive)
    beta_decision_maker: float = 1.5  # right after a decision maker left, fading
    decision_maker_decay_months: float = 12.0
    beta_contacts: float = 0.4  # per other key contact who left recently
    beta_growth_gap: float = 1.5  # growing while our late share exceeds its usual level
    late_share_usual: float = 0.08  # late share of lines that nobody minds
    beta_relationship: float = 1.5  # relationship below half its usual strength
    beta_leader_loss: float = 2.0  # times the influence of an industry leader that just left
    leader_decay_months: float = 3.0
    beta_contract_renewal: float = 0.5  # in the three months before a contract ends
    beta_decline: float = 5.0  # times the depth of the account's own business decline (log)

    # --- churn
    ramp_months_max: int = 3  # orders fall over 1..ramp_months_max months
    residual_max: float = 0.15  # to a residual share in [0, residual_max] of before
    residual_decay: float = 0.8  # after the break, what is left fades by this factor a month
    erosion: float = 0.15  # under pressure x, share of wallet tends to exp(-erosion * x) of normal
    erosion_speed: float = 0.3  # ... closing this part of the gap each month
    burn_in_months: int = 24  # simulated before the start, unrecorded, so the world starts settled
    outcome_recorded_share: float = 0.6  # losses that the CRM records in `outcomes`
    outcome_lag_months_max: int = 1  # the CRM records a loss up to this many months after the break

    # --- imperfect data
    missing_share: float = 0.05  # optional values left empty
    delivered_missing_share: float = 0.04

    constraints = {  # not annotated: a class attribute, not a field
        **{name: _NON_EMPTY for name in ("industries", "regions", "product_lines", "competitors", "contract_terms_months")},
        **{
            name: _BY_TIER
            for name in (
                "exec_visit_rate", "review_rate", "sales_visit_rate", "joint_development_share",
                "discount_by_tier", "relationship_weight_by_tier", "contacts_by_tier",
            )
        },
        **{
            name: share()
            for name in (
                "new_account_share", "key_share", "major_share", "share_of_wallet_min", "share_of_wallet_max",
                "custom_share_mean", "return_rate", "stuck_share", "visit_with_offer", "quote_recorded",
                "price_cut_share", "trial_order_switch", "tender_lost_switch", "residual_max", "residual_decay",
                "outcome_recorded_share", "missing_share", "delivered_missing_share", "hazard_max",
                "relationship_decay", "temptation_decay", "grievance_decay", "noise_ar", "industry_cycle_ar",
                "capacity_ar",
            )
        },
        **{
            name: number(above=0)
            for name in (
                "median_monthly_revenue", "median_lines_per_month", "order_dispersion", "offer_discount_mean",
                "offer_discount_shape", "resolve_median_days", "late_days_mean", "base_hazard",
                "decline_base_hazard", "decision_maker_decay_months", "leader_decay_months",
                "lead_days_standard", "lead_days_custom", "accounts_per_manager", "ramp_months_max",
            )
        },
        "leaders_max": whole(at_least=1),
        "burn_in_months": whole(at_least=0),
    }

    def relations(self) -> Iterator[tuple[str, str, Any]]:
        """(field, allowed, value) of every relation between fields that does not hold."""
        for listed, by in (("industry_contest", "industries"), ("unit_prices", "product_lines")):
            if len(getattr(self, listed)) != len(getattr(self, by)):
                yield listed, f"a list as long as data.world.{by} ({len(getattr(self, by))})", getattr(self, listed)
        if self.key_share + self.major_share > 1:
            yield "major_share", f"at most 1 - key_share ({1 - self.key_share:g})", self.major_share
        if not 0 < self.share_of_wallet_min <= self.share_of_wallet_max:
            yield "share_of_wallet_min", "above 0 and at most share_of_wallet_max", self.share_of_wallet_min
        for lo, hi in (
            ("growth_months_min", "growth_months_max"),
            ("decline_months_min", "decline_months_max"),
            ("neglect_months_min", "neglect_months_max"),
            ("growth_rate_min", "growth_rate_max"),
            ("decline_rate_min", "decline_rate_max"),
        ):
            if not 0 <= getattr(self, lo) <= getattr(self, hi):
                yield lo, f"between 0 and data.world.{hi} ({getattr(self, hi)})", getattr(self, lo)
        if self.contract_terms_months and min(self.contract_terms_months) < 1:
            yield "contract_terms_months", "whole months of at least 1", self.contract_terms_months
