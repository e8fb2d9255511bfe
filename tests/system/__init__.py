"""End-to-end tests: the service run as a user runs it (all marked `system`)."""
