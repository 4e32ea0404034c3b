"""Constraints on config values and the one validator that checks them.

Each config dataclass declares its constraints beside its fields, as scikit-learn's estimators
do: a class attribute `constraints = {"field": Rule, ...}` and, for rules that relate fields,
a method `relations()` yielding `(field, allowed, value)` for every relation that fails.
`check(obj, path)` walks a config and raises one ConfigError in one shape:

    `score.risk_bands.high` must be a churn probability in (0, 1); got 1.5
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping

from churnml.errors import ConfigError


def fail(path: str, allowed: str, value: Any, verb: str = "be") -> ConfigError:
    """The ConfigError of one broken constraint, in the one message shape."""
    return ConfigError(f"`{path}` must {verb} {allowed}; got {value!r}")


@dataclass(frozen=True)
class Rule:
    """A constraint: the words after "must be" (after "must `verb`") and the test a value has
    to pass."""

    allowed: str
    holds: Callable[[Any], bool]
    verb: str = "be"


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def whole(at_least: int) -> Rule:
    """A whole number of at least `at_least`."""
    return Rule(
        f"a whole number of at least {at_least}",
        lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= at_least,
    )


def number(above: float | None = None, at_least: float | None = None, at_most: float | None = None) -> Rule:
    """A finite number within the given bounds."""
    words = [w for w in (
        f"above {above:g}" if above is not None else "",
        f"at least {at_least:g}" if at_least is not None else "",
        f"at most {at_most:g}" if at_most is not None else "",
    ) if w]
    return Rule(
        "a number" + (" " + " and ".join(words) if words else ""),
        lambda v: _is_number(v)
        and (above is None or v > above)
        and (at_least is None or v >= at_least)
        and (at_most is None or v <= at_most),
    )


def share(bounds: str = "[]", what: str = "a share") -> Rule:
    """A fraction between 0 and 1; `bounds` "[]", "()", "[)" or "(]" says which ends are allowed."""
    low_in, high_in = bounds[0] == "[", bounds[1] == "]"
    return Rule(
        f"{what} in {bounds[0]}0, 1{bounds[1]}",
        lambda v: _is_number(v) and (0 <= v if low_in else 0 < v) and (v <= 1 if high_in else v < 1),
    )


def one_of(*choices: str) -> Rule:
    """One of the given words."""
    return Rule("one of " + ", ".join(choices), lambda v: v in choices)


def month() -> Rule:
    """A month written YYYY-MM."""
    return Rule(
        "a month written YYYY-MM (e.g. 2025-07)",
        lambda v: isinstance(v, str) and re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", v.strip()) is not None,
    )


def optional(rule: Rule) -> Rule:
    """`rule`, or not set (None or empty)."""
    return Rule(f"{rule.allowed} or null", lambda v: v in (None, "") or rule.holds(v))


def text() -> Rule:
    """A text that is not empty."""
    return Rule("a text that is not empty", lambda v: isinstance(v, str) and v.strip() != "")


def items(allowed: str, rule: Rule, least: int = 0, exactly: int | None = None) -> Rule:
    """A list of at least `least` (or exactly `exactly`) items that each keep `rule`, described
    as `allowed`."""
    return Rule(
        allowed,
        lambda v: isinstance(v, (list, tuple))
        and len(v) >= least
        and (exactly is None or len(v) == exactly)
        and all(rule.holds(x) for x in v),
    )


class EachValue(Rule):
    """A rule for every value of a mapping; `check` names the failing key."""


def each_value(rule: Rule) -> Rule:
    """A mapping whose every value keeps `rule`."""
    return EachValue(rule.allowed, rule.holds, rule.verb)


def keys_among(keys: Iterable[str]) -> Rule:
    """A mapping whose keys are among `keys`."""
    allowed = list(keys)
    return Rule(
        f"keys among {allowed} (unknown key(s) are not allowed)",
        lambda v: isinstance(v, Mapping) and set(v) <= set(allowed),
    )


def plain_name() -> Rule:
    """A file name without folders."""
    return Rule(
        "a plain file name", lambda v: isinstance(v, str) and v != "" and "/" not in v and not v.startswith(".")
    )


def text_encoding() -> Rule:
    """The name of a text encoding Python knows."""
    import codecs

    def known(value: Any) -> bool:
        try:
            codecs.lookup(value)
            return True
        except (LookupError, TypeError):
            return False

    return Rule("a text encoding such as utf-8, cp1252 or latin-1", lambda v: not v or known(v))


def character() -> Rule:
    """A single character (or not set)."""
    return Rule("a single character such as ',' or ';'", lambda v: v is None or (isinstance(v, str) and len(v) == 1))


def day() -> Rule:
    """A date written YYYY-MM-DD (or not set)."""
    from datetime import date

    def parses(value: Any) -> bool:
        try:
            date.fromisoformat(str(value))
            return True
        except ValueError:
            return False

    return Rule("a date YYYY-MM-DD or null", lambda v: v in (None, "") or parses(v))


def _broken(declared: Rule | Iterable[Rule], value: Any, where: str) -> Iterator[ConfigError]:
    for rule in (declared,) if isinstance(declared, Rule) else declared:
        if isinstance(rule, EachValue) and isinstance(value, Mapping):
            for key, item in value.items():
                if not rule.holds(item):
                    yield fail(f"{where}.{key}", rule.allowed, item, rule.verb)
        elif not rule.holds(value):
            yield fail(where, rule.allowed, value, rule.verb)


def _problems(obj: Any, path: str) -> Iterator[ConfigError]:
    rules: Mapping[str, Rule | Iterable[Rule]] = getattr(type(obj), "constraints", {})
    for f in fields(obj):
        value = getattr(obj, f.name)
        where = f"{path}.{f.name}" if path else f.name
        yield from _broken(rules.get(f.name, ()), value, where)
        if is_dataclass(value):
            yield from _problems(value, where)
        elif isinstance(value, Mapping):
            for key, item in value.items():
                if is_dataclass(item):
                    yield from _problems(item, f"{where}.{key}")
    relations = getattr(obj, "relations", None)
    if callable(relations):
        for name, allowed, value, *verb in relations():
            yield fail(f"{path}.{name}" if path else name, allowed, value, *verb)


def check(obj: Any, path: str = "") -> None:
    """Raise the ConfigError of the first constraint `obj` (a config dataclass, walked with its
    nested ones) breaks; `path` is its place in the config (e.g. "model.split")."""
    for problem in _problems(obj, path):
        raise problem


def check_field(cls: type, name: str, value: Any, path: str) -> None:
    """Check one value against the constraints `cls` declares for its field `name` (for
    functions that take that field's value on its own)."""
    for problem in _broken(getattr(cls, "constraints", {}).get(name, ()), value, path):
        raise problem
