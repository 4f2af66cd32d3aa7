"""Monitoring: is the model still right before the renewals say so? Drift, label-free estimates, realized results."""
