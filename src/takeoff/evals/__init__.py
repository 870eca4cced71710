"""Eval sets, targets, scorers, eval runs and release gates (seed step 5: evaluate before release)."""
