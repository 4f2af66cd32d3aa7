"""Serving: the BentoML risk-score service (a later milestone). It reuses ``features`` and the model bundle."""
