"""Action recognition on UCF-style folders: the layout, the evaluation protocols, frame sampling (issue 13, in progress)."""
