"""Network tools and blocks that more than one paper uses (today: the parameter/FLOP summary)."""
