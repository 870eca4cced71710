"""Users, roles, permissions, API tokens and browser sessions."""
