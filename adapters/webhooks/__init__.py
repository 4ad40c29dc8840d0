"""Webhooks for integrators: subscriptions, signed deliveries, retries, the delivery log."""
