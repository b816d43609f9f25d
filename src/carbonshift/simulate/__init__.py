"""Replaying job traces through the planner on history, and comparison reports.
(Filled in by the compare issue.)"""
