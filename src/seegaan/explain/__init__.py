"""seegaan.explain"""
