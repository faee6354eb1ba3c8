"""Video retrieval benchmarks (FIVR, CC_WEB_VIDEO): dataset layout, features on disk, reports."""
