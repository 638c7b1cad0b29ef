"""The durable delivery queue: activities for peer instances, sent in order, retried, never lost."""
