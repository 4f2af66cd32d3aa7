"""Serving: the BentoML risk-score service, its request schemas, bearer auth and the SQLite snapshot store."""
