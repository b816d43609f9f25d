"""Tests of carbonshift.simulate."""
