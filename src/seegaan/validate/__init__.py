"""seegaan.validate: checks that know the virtual cohort (its factors, renderer and oracle), and
the scores of explanations and models against its known, interventional truth."""
