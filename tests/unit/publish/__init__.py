"""Tests of the publish stage."""
