"""codesign: hardware-codesign toolchain for CMS Level-1 trigger machine learning."""

__version__ = "0.1.0"
