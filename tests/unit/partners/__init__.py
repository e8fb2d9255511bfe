"""Tests of the partners stage: private feeds, the ninjs API, entitlements."""
