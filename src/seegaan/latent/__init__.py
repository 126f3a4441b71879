"""seegaan.latent"""
