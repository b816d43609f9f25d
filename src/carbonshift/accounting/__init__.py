"""Accounting: power meters, energy integration, emissions, counterfactuals and the ledger.

Pure math (no I/O): :mod:`.profile` (power profiles and their exact integral per intensity
step), :mod:`.emissions` (step energy × step intensity, gaps reported, provisional → final),
:mod:`.counterfactual` (the same profile at the baselines' starts), :mod:`.report` (aggregating
ledger records). I/O: :mod:`.meters` (NVML, RAPL, a declared model), :mod:`.ledger` (the
append-only store), :mod:`.tracker` (``track()``), :mod:`.codecarbon` (CSV export).
"""

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
