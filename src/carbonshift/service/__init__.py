"""The scheduler service: job store, planning loop, REST API, dashboard.
(Filled in by the service issue.)"""
