"""seegaan.models"""
