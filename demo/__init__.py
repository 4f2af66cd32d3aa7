"""The demo world: a simulator of subscription accounts whose renewals follow planted, documented causes.

Not a feature builder: it writes an export in the data contract's shape (``docs/demo-data.md``)
plus the ground truth (``_truth/``) that benchmarks and tests grade explanations with. Nothing
in ``features/``, ``training/``, ``explain/`` or ``serving/`` imports it.
"""
