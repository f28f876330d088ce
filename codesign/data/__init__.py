"""Datasets generated locally (no downloads): the stage every other stage reads from."""
