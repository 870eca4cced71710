"""Outcomes: feedback, adoption, KPIs, ROI and payback, quarterly reviews.

Pure rules: `roi` (ROI and payback with the formula shown next to each figure), `themes` (feedback comments
grouped into themes with TF-IDF and k-means), `review` (quarterly suggested actions with their reasons).
"""
