"""The project's own exception types.

Every failure a user can cause with their input is raised as a subclass of
:class:`AbsitesError` whose message names the file, chain or item at fault.
The CLI turns these into one-line messages; batch jobs record them in a
manifest and carry on.
"""

from __future__ import annotations


class AbsitesError(Exception):
    """Base class of all errors raised on purpose by absites."""


class StructureFileError(AbsitesError):
    """The file cannot be read as a structure (empty, truncated, binary, malformed)."""


class ChainError(AbsitesError):
    """A requested chain is absent, empty, or holds no protein residues."""


class NoContactError(AbsitesError):
    """Antibody and antigen have no heavy atoms within the contact cutoff."""


class NumberingError(AbsitesError):
    """An antibody chain could not be numbered as an immunoglobulin variable domain."""


class ConfigError(AbsitesError):
    """A configuration value is missing or invalid."""


class DataIndexError(AbsitesError):
    """The complex index is missing or malformed."""


class CacheError(AbsitesError):
    """A cache file is corrupt (checksum mismatch) or unreadable."""


class FetchError(AbsitesError):
    """Downloading an entry from the PDB failed."""


class SurfaceError(AbsitesError):
    """A surface could not be built (too few atoms, empty or broken mesh)."""


class SpectralError(AbsitesError):
    """The eigen-solve failed its checks (NaN, several zero modes, not M-orthonormal)."""
