"""Network tools and blocks that more than one paper uses: the parameter/FLOP summary and a CPU-fast ELU."""
