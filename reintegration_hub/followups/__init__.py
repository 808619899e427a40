"""Follow-up: milestones across the reintegration window, reminders and escalations."""
