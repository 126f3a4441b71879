"""seegaan.data"""
