"""Accounting: power meters, energy integration, emissions, counterfactuals and the ledger.

Pure math (no I/O): :mod:`.profile` (power profiles and their exact integral per intensity
step), :mod:`.emissions` (step energy × step intensity, gaps reported, provisional → final),
:mod:`.counterfactual` (the same profile at the baselines' starts), :mod:`.report` (aggregating
ledger records). I/O: :mod:`.meters` (NVML, RAPL, a declared model), :mod:`.ledger` (the
append-only store), :mod:`.tracker` (``track()``), :mod:`.codecarbon` (CSV export).
"""

_LAZY = {
    "Account": "carbonshift.accounting.emissions",
    "CODECARBON_COLUMNS": "carbonshift.accounting.codecarbon",
    "CombinedMeter": "carbonshift.accounting.meters",
    "Counterfactuals": "carbonshift.accounting.counterfactual",
    "J_PER_KWH": "carbonshift.accounting.profile",
    "Ledger": "carbonshift.accounting.ledger",
    "LedgerEditError": "carbonshift.accounting.ledger",
    "LedgerEntry": "carbonshift.accounting.records",
    "LedgerRecord": "carbonshift.accounting.records",
    "MeterInfo": "carbonshift.accounting.meters",
    "ModelMeter": "carbonshift.accounting.meters",
    "NvmlMeter": "carbonshift.accounting.meters",
    "Placement": "carbonshift.accounting.counterfactual",
    "PowerMeter": "carbonshift.accounting.meters",
    "PowerProfile": "carbonshift.accounting.profile",
    "RaplMeter": "carbonshift.accounting.meters",
    "Reading": "carbonshift.accounting.meters",
    "Report": "carbonshift.accounting.report",
    "Restatement": "carbonshift.accounting.emissions",
    "StepAccount": "carbonshift.accounting.emissions",
    "StepEnergies": "carbonshift.accounting.profile",
    "Tracker": "carbonshift.accounting.tracker",
    "account": "carbonshift.accounting.emissions",
    "build_report": "carbonshift.accounting.report",
    "codecarbon_rows": "carbonshift.accounting.codecarbon",
    "counterfactuals": "carbonshift.accounting.counterfactual",
    "render_report": "carbonshift.accounting.render",
    "restate": "carbonshift.accounting.emissions",
    "select_meter": "carbonshift.accounting.meters",
    "track": "carbonshift.accounting.tracker",
}
"""Loaded on first use: ``python -m carbonshift.accounting.probe`` imports only the meters."""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from carbonshift.accounting.codecarbon import CODECARBON_COLUMNS, codecarbon_rows
    from carbonshift.accounting.counterfactual import Counterfactuals, Placement, counterfactuals
    from carbonshift.accounting.emissions import Account, Restatement, StepAccount, account, restate
    from carbonshift.accounting.ledger import Ledger, LedgerEditError
    from carbonshift.accounting.meters import (
        CombinedMeter,
        MeterInfo,
        ModelMeter,
        NvmlMeter,
        PowerMeter,
        RaplMeter,
        Reading,
        select_meter,
    )
    from carbonshift.accounting.profile import J_PER_KWH, PowerProfile, StepEnergies
    from carbonshift.accounting.records import LedgerEntry, LedgerRecord
    from carbonshift.accounting.render import render_report
    from carbonshift.accounting.report import Report, build_report
    from carbonshift.accounting.tracker import Tracker, track


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'carbonshift.accounting' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "CODECARBON_COLUMNS",
    "J_PER_KWH",
    "Account",
    "CombinedMeter",
    "Counterfactuals",
    "Ledger",
    "LedgerEditError",
    "LedgerEntry",
    "LedgerRecord",
    "MeterInfo",
    "ModelMeter",
    "NvmlMeter",
    "Placement",
    "PowerMeter",
    "PowerProfile",
    "RaplMeter",
    "Reading",
    "Report",
    "Restatement",
    "StepAccount",
    "StepEnergies",
    "Tracker",
    "account",
    "build_report",
    "codecarbon_rows",
    "counterfactuals",
    "render_report",
    "restate",
    "select_meter",
    "track",
]
