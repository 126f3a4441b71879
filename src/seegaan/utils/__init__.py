"""Small infrastructure shared by every stage: atomic output, progress bars, JSON."""
