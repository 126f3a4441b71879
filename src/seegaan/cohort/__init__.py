"""seegaan.cohort"""
