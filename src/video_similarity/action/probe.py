"""SEVERE's downstream measures on cached features: class-balanced training subsets and a linear probe.

The probe is a linear layer on frozen per-video features (several clips'
features averaged, L2-normalised, then standardised with the training set's
mean and std), trained with cross-entropy by SGD with momentum 0.9 at
SEVERE's settings (lr 0.01, batch 128, 10 epochs) unless told otherwise;
``solver: lbfgs`` instead fits the same model to convergence (scikit-learn's
multinomial logistic regression), for training sets too small for ten epochs
of SGD to mean anything.
"""

from __future__ import annotations

import math
import numpy as np
import pandas as pd

from video_similarity.action.params import ProbeParams

SEVERE_SUBSET_SEED = 99999


def balanced_subset(videos: pd.DataFrame, n: int | None, seed: int = SEVERE_SUBSET_SEED) -> pd.DataFrame:
    """ceil(n / C) videos per class (all of a class that has fewer), drawn with ``seed``; ``n`` None: every video."""
    if n is None:
        return videos
    if n < 1:
        raise ValueError(f"a sample size must be >= 1, got {n}")
    per_class = math.ceil(n / videos["label"].nunique())
    rng = np.random.default_rng(seed)
    parts = []
    for _, rows in videos.groupby("label", sort=True):
        take = min(per_class, len(rows))
        parts.append(rows.iloc[np.sort(rng.choice(len(rows), size=take, replace=False))])
    return pd.concat(parts).sort_index()


def linear_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, params: ProbeParams) -> np.ndarray:
    """Predicted labels of ``test_x`` by a linear classifier fitted on (train_x, train_y)."""
    mean, std = train_x.mean(axis=0), train_x.std(axis=0) + 1e-6
    a, b = (train_x - mean) / std, (test_x - mean) / std
    classes = np.unique(train_y)
    if len(classes) == 1:
        return np.full(len(test_x), classes[0])
    if params.solver == "lbfgs":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=params.c, max_iter=2000).fit(a, train_y).predict(b)
    import torch

    generator = torch.Generator().manual_seed(params.seed)
    torch.manual_seed(params.seed)
    layer = torch.nn.Linear(a.shape[1], int(train_y.max()) + 1)
    optimizer = torch.optim.SGD(layer.parameters(), lr=params.lr, momentum=params.momentum, weight_decay=params.weight_decay)
    x, y = torch.from_numpy(a.astype(np.float32)), torch.from_numpy(train_y.astype(np.int64))
    for _ in range(params.epochs):
        order = torch.randperm(len(x), generator=generator)
        for i in range(0, len(x), params.batch_size):
            batch = order[i : i + params.batch_size]
            loss = torch.nn.functional.cross_entropy(layer(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        return layer(torch.from_numpy(b.astype(np.float32))).argmax(1).numpy()
