"""Incidents: opened by alerts or by hand, owned by the use case's on-call, with MTTD / MTTR."""
