"""seegaan.report"""
