"""Power meters, energy integration, emissions, counterfactuals and the ledger.
(Filled in by the accounting issue.)"""
