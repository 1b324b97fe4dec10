"""Test oracles: plain reference implementations that mmfreq's tests and
benchmarks compare the fast layers against. Not part of the user API."""
