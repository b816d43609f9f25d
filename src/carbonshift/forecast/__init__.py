"""Forecasters: history in, forecast series out, using only data stamped before the decision
time. (Filled in by the forecasts issue.)"""
