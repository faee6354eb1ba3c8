"""Classical baselines to compare learned descriptors against (PDQ perceptual hashing)."""
