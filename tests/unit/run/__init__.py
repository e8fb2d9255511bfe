"""Tests of the worker: cycles, schedules, claims."""
