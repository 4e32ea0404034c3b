"""Test helpers: small frames, tables and stand-in models the tests build on."""
