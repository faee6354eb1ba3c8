"""Contrastive training losses of the VSC-2022 rank-1 descriptor (SSCD recipe).

``info_nce`` pulls two augmented views of the same frame together against all
other views in the (globally gathered) batch; ``koleo`` spreads descriptors
uniformly over the sphere, which is what makes a fixed similarity threshold and
score normalisation work across videos. ``relational_distillation`` pulls a
trained member towards a frozen teacher (SSCD) that sees the clean frame.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F


def info_nce(a: torch.Tensor, b: torch.Tensor, tau: float = 0.05) -> torch.Tensor:
    """Symmetric InfoNCE (NT-Xent) over the 2B x 2B similarity matrix of ``cat(a, b)``.

    ``a`` and ``b`` are (B, D) L2-normalised embeddings; row i of ``a`` and
    row i of ``b`` are a positive pair, every other row is a negative. The
    self-similarity diagonal is masked out, the positive of row i is row
    i + B (and of row i + B is row i), and cross-entropy is averaged over all
    2B rows.
    """
    if a.dim() != 2 or a.shape != b.shape:
        raise ValueError(
            f"a and b must be (B, D) of equal shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if tau <= 0:
        raise ValueError(f"temperature tau must be positive, got {tau}")
    n = a.shape[0]
    z = torch.cat([a, b], dim=0)
    sim = (z @ z.T) / tau
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    # -inf, not a large constant: the diagonal must carry exactly zero probability.
    sim = sim.masked_fill(self_mask, float("-inf"))
    idx = torch.arange(n, device=z.device)
    targets = torch.cat([idx + n, idx])
    return F.cross_entropy(sim, targets)


def koleo(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """KoLeo regulariser: ``mean_i -log(eps + min_{j != i} ||x_i - x_j||)``.

    The Kozachenko-Leonenko estimator of differential entropy, negated: it is
    large when points crowd together and small when they are spread out, so
    minimising it spreads the batch. Nearest neighbours are chosen without
    gradient; the distance to them carries it. Typically applied to
    L2-normalised descriptors.
    """
    if x.dim() != 2 or x.shape[0] < 2:
        raise ValueError(f"koleo needs an (N >= 2, D) tensor, got {tuple(x.shape)}")
    with torch.no_grad():
        d = torch.cdist(x.float(), x.float())
        d.fill_diagonal_(float("inf"))
        nearest = d.argmin(dim=1)
    dist_nn = F.pairwise_distance(x, x[nearest], p=2.0, eps=eps)
    return -torch.log(dist_nn + eps).mean()


def relational_distillation(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between the student's and the teacher's cosine-similarity matrices.

    Pulls the student towards how the teacher (SSCD) relates the frames of a batch
    (Park et al. 2019, relational knowledge distillation), so the two need not share
    a dimension: ``student`` (N, d) and ``teacher`` (N, D) rows are L2-normalised
    here; the teacher carries no gradient.
    """
    if student.dim() != 2 or teacher.dim() != 2 or student.shape[0] != teacher.shape[0]:
        raise ValueError(f"student and teacher must be (N, d) and (N, D), got {tuple(student.shape)} and {tuple(teacher.shape)}")
    s = F.normalize(student, dim=-1)
    t = F.normalize(teacher.detach().to(student.dtype), dim=-1)
    return ((s @ s.T - t @ t.T) ** 2).mean()


def gather_embeddings(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` from all ranks (rank order), keeping gradients.

    More negatives make InfoNCE sharper, so the rank-1 computes it over the
    global batch. ``torch.distributed.nn.functional.all_gather`` is the
    autograd-aware gather: gradients flow back to each rank's local part.
    Identity when torch.distributed is not initialised or has one rank.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(x), dim=0)
