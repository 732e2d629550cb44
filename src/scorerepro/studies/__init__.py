"""Studies: the seed papers' experiments as library functions taking explicit settings.

Each study returns a :class:`scorerepro.studies.toy.StudyResult` (a JSON-ready ``metrics`` dict and the
``arrays`` behind its figure); the stages in :mod:`scorerepro.pipeline` read params.yaml and write files.
"""
