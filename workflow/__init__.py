"""The workflows above the pipeline stages: what the CLI, the notebooks and the MLproject run alike.

``features/``, ``training/`` and ``explain/`` hold the pieces; a workflow puts them in order
(train, evaluate, log, register, promote; set up a notebook) so that every caller makes the
same calls and reports progress through callbacks of its own.
"""
