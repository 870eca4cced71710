"""Review: human review of production requests in annotation queues (rubrics, sampling rules, reviewers, agreement)."""
