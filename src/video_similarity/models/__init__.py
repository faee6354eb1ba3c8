"""Frame descriptor networks: backbone registry, GeM pooling and the descriptor model.

Kept free of imports so that importing the package stays cheap; import the
submodules (``backbones``, ``pooling``, ``descriptor``) directly.
"""
