"""Monthly scoring, pure functions on DataFrames: one module per idea.

- `priority`: retention priority, rank and risk bands;
- `reasons`: the reasons behind an account's churn probability, in words;
- `actions`: the playbook's action for those reasons;
- `risk_list`: the ranked list of one month (`score_accounts`);
- `changes`: what changed since the previous list;
- `winback`: the accounts already gone;
- `month`: all of a month's frames at once (`score_frames`), as `churnml score` makes them.
Files, models and MLflow are the business of `churnml.stages.score`.
"""
