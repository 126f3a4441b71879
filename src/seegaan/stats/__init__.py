"""seegaan.stats"""
