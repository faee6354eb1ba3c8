"""action_recognition: Tiny Video Network TVN-1 trained from scratch on a UCF-style folder, per evaluation protocol."""

from video_similarity.pipelines.action_recognition.pipeline import create_pipeline

__all__ = ["create_pipeline"]
