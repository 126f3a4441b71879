"""seegaan.validate: checks that know the virtual cohort (its factors, renderer and oracle)."""
