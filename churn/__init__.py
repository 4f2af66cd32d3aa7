"""The `churn` command line: a thin layer over features, training and serving."""
