"""Correctness checking of simulated runs (issue 5): the SMP invariant checker."""
