"""churnml: churn prediction and retention priorities for an industrial supplier's key accounts."""

import functools

__version__ = "0.1.0"


@functools.cache
def code_version() -> str:
    """The package version and a hash of its source files: two runs with the same value ran the
    same code. Read once per process (the features' fingerprint and a model's identity use it)."""
    import hashlib
    from pathlib import Path

    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.rglob("*.py")):
        digest.update(path.relative_to(Path(__file__).parent).as_posix().encode())
        digest.update(path.read_bytes())
    return f"{__version__}+{digest.hexdigest()[:12]}"
