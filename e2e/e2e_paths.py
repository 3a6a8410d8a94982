"""Paths the e2e tests share."""
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
