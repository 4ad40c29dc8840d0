"""Tenants: the directory (a small control database) of which node holds which tenant."""
