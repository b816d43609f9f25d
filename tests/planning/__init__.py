"""Tests of carbonshift.planning."""
