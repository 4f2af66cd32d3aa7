"""Explanations: why an account is at risk, in words a CSM acts on, with plays and pages."""
