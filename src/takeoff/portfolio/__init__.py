"""Portfolio: use cases, intake, inventory, scale targets, and value/feasibility/risk prioritization.

Pure rules live in `scoring` (lens scores, aggregation across scorers, the priority formula, ranking and
the "1-2 near-term + 1 longer-term" recommendation) and `lifecycle` (legal status transitions).
"""
