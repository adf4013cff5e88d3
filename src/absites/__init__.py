"""absites: antibody paratope and epitope prediction from 3D structures."""

__version__ = "0.1.0"
