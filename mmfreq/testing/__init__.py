"""Helpers only mmfreq's tests use: running the repository's tools and
configs (:mod:`~mmfreq.testing.tools`), ``torch.compile`` checks
(:mod:`~mmfreq.testing.compile`) and shared inputs
(:mod:`~mmfreq.testing.fixtures`). Not part of the user API; the reference
formulations the tests compare against live in :mod:`mmfreq.reference`."""
