"""Accounting exports: each connection follows the event log and replays it into one system."""
