"""seegaan.train"""
