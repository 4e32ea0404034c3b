"""Errors a user can cause, each with the exit code that jobs and schedulers rely on."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

EXIT_UNEXPECTED = 1
EXIT_BAD_INPUT = 2
EXIT_NO_MODEL = 3
# What each exit code means, as `churnml --help` says it (the README's table says it at length).
EXIT_CODES = {
    0: "ok",
    EXIT_BAD_INPUT: "bad input or configuration",
    EXIT_NO_MODEL: "no model to score with",
    EXIT_UNEXPECTED: "an unreachable service or anything else",
}


def exit_codes_line() -> str:
    """The exit codes in one line, for the help texts."""
    return "exit codes: " + ", ".join(f"{code} {meaning}" for code, meaning in EXIT_CODES.items())


class ChurnmlError(Exception):
    """A problem the user can fix; the CLI prints the message (no traceback) and exits."""

    exit_code = EXIT_UNEXPECTED


class ConfigError(ChurnmlError):
    """A configuration value that is not allowed: names the parameter, what is allowed, what was given."""

    exit_code = EXIT_BAD_INPUT


class ServiceUnavailable(ChurnmlError):
    """A service churnml needs (the MLflow tracking server, the database) cannot be reached."""

    exit_code = EXIT_UNEXPECTED


class NoModelError(ChurnmlError):
    """No model to score with."""

    exit_code = EXIT_NO_MODEL


@dataclass
class Problem:
    """One broken rule of the input contract."""

    table: str
    column: str | None
    problem: str
    examples: pd.DataFrame | None = field(default=None, repr=False)
    source_column: str | None = None  # the user's name of `column`, when it is mapped

    def render(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        if self.source_column:
            where += f" ({self.source_column})"
        text = f"- {where}: {self.problem}"
        if self.examples is not None and len(self.examples):
            rows = self.examples.head(5).to_string(index=False, max_colwidth=40)
            text += "\n" + "\n".join("    " + line for line in rows.splitlines())
        return text


class ContractError(ChurnmlError):
    """The input breaks the contract; holds every problem found, reported together."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        head = f"The input data breaks the contract ({len(self.problems)} problem(s)); nothing was written."
        return "\n".join([head, *(p.render() for p in self.problems)])
