"""Scheduled tasks: reminders users set with /remind and jobs admins configure in `schedules:`
(a cron, a target chat, a fixed message or a prompt the model answers). Each due task is
claimed durably and its message goes through the outbox, so it is sent exactly once across
crashes and replicas (see `store/schedules.py`)."""
