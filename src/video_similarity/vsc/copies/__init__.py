"""Copy search over a built reference index: ``kedro find-copies``, ``add-references``, ``remove-references`` (docs/find_copies.md)."""
