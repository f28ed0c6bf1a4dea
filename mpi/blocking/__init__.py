"""Blocking: key rules, candidate pairs, diagnostics."""
from .candidates import CandidatePairs, candidate_pairs
from .diagnostics import blocking_report
from .rules import RULES, BlockingRule

__all__ = ["RULES", "BlockingRule", "CandidatePairs", "blocking_report", "candidate_pairs"]
