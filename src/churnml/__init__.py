"""churnml: churn prediction and retention priorities for an industrial supplier's key accounts."""

__version__ = "0.1.0"
