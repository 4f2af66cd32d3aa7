"""Feature builders: load and validate input tables, derive renewal outcomes, build point-in-time snapshots.

This package knows tables and dates and nothing of models. Every builder is a pure function
of (tables, snapshot grid) that reads only rows dated strictly before each snapshot's as_of.
"""
