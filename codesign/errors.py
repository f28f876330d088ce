"""The one error type users see: a single line naming the file, field, layer or node at fault."""


class CodesignError(Exception):
    """Raised for bad input or a failed check; the CLI prints str(err) on one line and exits 2."""
