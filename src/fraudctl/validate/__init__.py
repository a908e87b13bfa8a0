"""Offline validation for CI: every check that needs no running service."""
