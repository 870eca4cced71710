"""Notification channels beyond the signed webhook: Teams, PagerDuty and e-mail (SMTP) formats and transports."""
