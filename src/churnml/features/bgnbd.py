"""BG/NBD (Fader, Hardie & Lee 2005), the standard "buy till you die" model of a customer base
whose customers can leave without telling: closed-form likelihood, fitted by maximum likelihood
with scipy, and the two quantities churnml uses, P(alive) and the expected number of orders.

Per account: `x` repeat purchases (distinct order days after the first), `t_x` the time from the
first to the last purchase, `T` the time from the first purchase to the moment of prediction,
all in weeks here. Parameters `r, alpha` (gamma-distributed purchase rates) and `a, b`
(beta-distributed dropout probability after each purchase).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import digamma, gammaln, hyp2f1

# Accounts used to fit the population's parameters at most (a random but fixed subset): the four
# parameters are population figures, and more rows only cost time.
MAX_FIT_ACCOUNTS = 5000
_START = np.log([1.0, 10.0, 1.0, 2.0])


@dataclass(frozen=True)
class BgNbd:
    """Fitted BG/NBD parameters."""

    r: float
    alpha: float
    a: float
    b: float

    @property
    def params(self) -> np.ndarray:
        return np.array([self.r, self.alpha, self.a, self.b])

    def p_alive(self, x, t_x, T) -> np.ndarray:
        """Probability that each account is still a customer at `T`."""
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        r, alpha, a, b = self.params
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            odds = (a / (b + x - 1)) * ((alpha + T) / (alpha + t_x)) ** (r + x)
            return np.where(x > 0, 1.0 / (1.0 + odds), 1.0)

    def expected_purchases(self, t: float, x, t_x, T) -> np.ndarray:
        """Expected purchases of each account in the `t` weeks after `T`, given its history."""
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        r, alpha, a, b = self.params
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            first = (a + b + x - 1) / (a - 1)
            second = 1 - hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t)) * (
                (alpha + T) / (alpha + T + t)
            ) ** (r + x)
            odds = np.where(x > 0, (a / (b + x - 1)) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0)
            out = first * second / (1 + odds)
        return np.where(np.isfinite(out) & (out >= 0), out, np.nan)


def log_likelihood(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Log-likelihood of each account's (x, t_x, T) under `params` = (r, alpha, a, b)."""
    r, alpha, a, b = params
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x), -np.inf)
    return a1 + a2 + np.logaddexp(a3, a4)


def _loss_and_gradient(log_params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
                       distinct: tuple[np.ndarray, np.ndarray] | None = None):
    """Mean negative log-likelihood and its gradient in the log parameters (closed form: far
    fewer evaluations than finite differences). `distinct`: (the distinct values of x, the
    place of each x among them), so the special functions of x are evaluated once per value."""
    r, alpha, a, b = np.exp(log_params)
    values, where = distinct if distinct is not None else (x, slice(None))

    def gammaln_x(z0: float) -> np.ndarray:  # gammaln(z0 + x) of every account
        return gammaln(z0 + values)[where]

    def digamma_x(z0: float) -> np.ndarray:
        return digamma(z0 + values)[where]

    repeat = x > 0
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(repeat, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x), -np.inf)
    mix = np.logaddexp(a3, a4)
    w3, w4 = np.exp(a3 - mix), np.where(repeat, np.exp(a4 - mix), 0.0)
    ll = (gammaln_x(r) - gammaln(r) + r * np.log(alpha)
          + gammaln(a + b) + gammaln_x(b) - gammaln(b) - gammaln_x(a + b) + mix)
    d_r = digamma_x(r) - digamma(r) + np.log(alpha) - w3 * np.log(alpha + T) - w4 * np.log(alpha + t_x)
    d_alpha = r / alpha - (r + x) * (w3 / (alpha + T) + w4 / (alpha + t_x))
    d_a = digamma(a + b) - digamma_x(a + b) + w4 / a
    with np.errstate(divide="ignore", invalid="ignore"):
        d_b = (digamma(a + b) + digamma_x(b) - digamma(b) - digamma_x(a + b)
               - np.where(repeat, w4 / np.maximum(b + x - 1, 1e-300), 0.0))
    grad = -np.array([d_r.mean() * r, d_alpha.mean() * alpha, d_a.mean() * a, d_b.mean() * b])
    value = -ll.mean()
    if not np.isfinite(value) or not np.isfinite(grad).all():
        return 1e100, np.zeros(4)
    return float(value), grad


def fit_bgnbd(x, t_x, T, start: np.ndarray | None = None, seed: int = 0) -> BgNbd | None:
    """Maximum-likelihood BG/NBD parameters for accounts with histories (x, t_x, T); `start`
    (log parameters) warm-starts the search. None when there is nothing to fit on."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    ok = np.isfinite(x) & np.isfinite(t_x) & np.isfinite(T) & (T > 0)
    x, t_x, T = x[ok], t_x[ok], T[ok]
    if len(x) < 10 or not (x > 0).any():
        return None
    if len(x) > MAX_FIT_ACCOUNTS:
        pick = np.random.default_rng(seed).choice(len(x), MAX_FIT_ACCOUNTS, replace=False)
        x, t_x, T = x[pick], t_x[pick], T[pick]

    _, first, where = np.unique(x, return_index=True, return_inverse=True)
    distinct = (x[first], where)  # repeat counts take few values: their special functions once each
    result = minimize(_loss_and_gradient, _START if start is None else start, args=(x, t_x, T, distinct), jac=True,
                      method="L-BFGS-B", bounds=[(-10.0, 10.0)] * 4,
                      options={"maxiter": 500, "ftol": 1e-10, "gtol": 1e-6})
    r, alpha, a, b = np.exp(result.x)
    return BgNbd(float(r), float(alpha), float(a), float(b))
