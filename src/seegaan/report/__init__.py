"""HTML report from any run directory: ``build_report(run_dir)``."""

from seegaan.report.build import build_report

__all__ = ["build_report"]
