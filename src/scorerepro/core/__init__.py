"""What every part of the package leans on: atomic file I/O, seeds, the compute device, process groups."""
