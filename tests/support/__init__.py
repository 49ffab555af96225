"""Helpers and fixtures the tests share (not tests themselves)."""
