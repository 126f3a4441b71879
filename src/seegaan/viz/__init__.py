"""seegaan.viz"""
