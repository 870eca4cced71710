"""The evidence engine: one registry of evidence kinds that readiness items and release checklists both judge."""
