"""seegaan.validate: checks of explanations and models against the virtual cohort's known truth."""
