"""Contrastive losses against hand-written references and their intended behaviour."""

import math

import pytest
import torch
import torch.nn.functional as F

from video_similarity.training.losses import gather_embeddings, info_nce, koleo


def _unit(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(*shape, generator=g), dim=-1)


def _info_nce_reference(a, b, tau):
    """Row by row, in float64 Python: -log(exp(s_pos) / sum_{k != i} exp(s_ik))."""
    z = [list(map(float, row)) for row in torch.cat([a, b]).double()]
    n = len(a)
    total = 0.0
    for i in range(2 * n):
        positive = i + n if i < n else i - n
        sims = [sum(x * y for x, y in zip(z[i], z[k], strict=True)) / tau for k in range(2 * n)]
        denominator = sum(math.exp(s) for k, s in enumerate(sims) if k != i)
        total += -math.log(math.exp(sims[positive]) / denominator)
    return total / (2 * n)


@pytest.mark.parametrize("tau", [0.05, 0.5])
def test_info_nce_matches_reference(tau):
    a, b = _unit(4, 3, seed=1), _unit(4, 3, seed=2)
    got = info_nce(a, b, tau=tau)
    assert got.dim() == 0
    assert got.item() == pytest.approx(_info_nce_reference(a, b, tau), rel=1e-5)


def test_info_nce_masks_self_similarity():
    # Identical a and b: without masking, row i would match itself as well as its positive.
    a = _unit(3, 4)
    b = a.clone()
    # Positive and self both score 1/tau; masking self leaves the positive among 2B - 1 = 5 rows.
    tau = 1.0
    s = (a @ a.T) / tau
    expected = []
    for i in range(3):
        others = torch.cat([s[i], s[i]])  # row i of the 6x6 matrix
        others = torch.cat([others[:i], others[i + 1:]])
        expected.append(-(s[i, i] - torch.logsumexp(others, 0)))
    assert info_nce(a, b, tau=tau).item() == pytest.approx(torch.stack(expected).mean().item(), rel=1e-5)


def test_info_nce_lower_for_aligned_than_shuffled_pairs():
    a = _unit(16, 8, seed=3)
    b = F.normalize(a + 0.1 * _unit(16, 8, seed=4), dim=-1)
    shuffled = b[torch.roll(torch.arange(16), 1)]
    assert info_nce(a, b) < info_nce(a, shuffled) - 1.0


def test_info_nce_gradient_is_finite():
    a = _unit(5, 6, seed=5).requires_grad_()
    b = _unit(5, 6, seed=6).requires_grad_()
    info_nce(a, b).backward()
    assert torch.isfinite(a.grad).all() and torch.isfinite(b.grad).all()
    assert a.grad.abs().sum() > 0


def test_info_nce_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        info_nce(_unit(4, 3), _unit(5, 3))


def test_koleo_matches_reference():
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0], [10.0, 0.0]])
    # nearest-neighbour distances: 1, sqrt(9+9)=4.2426, 1, sqrt(49+16)=8.0623
    nn = [1.0, math.sqrt(18.0), 1.0, math.sqrt(65.0)]
    expected = -sum(math.log(d) for d in nn) / 4
    assert koleo(x).item() == pytest.approx(expected, rel=1e-5)


def test_koleo_larger_for_clustered_than_spread_points():
    angles = torch.arange(8) * (2 * math.pi / 8)
    spread = torch.stack([angles.cos(), angles.sin()], dim=1)
    clustered = F.normalize(torch.tensor([[1.0, 0.0]]) + 0.01 * _unit(8, 2, seed=7), dim=-1)
    assert koleo(clustered) > koleo(spread) + 1.0


def test_koleo_gradient_spreads_points():
    x = torch.tensor([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0]], requires_grad=True)
    koleo(x).backward()
    assert torch.isfinite(x.grad).all()
    # Descending the gradient pushes the two close points apart along x.
    assert x.grad[0, 0] > 0 and x.grad[1, 0] < 0


def test_koleo_duplicates_stay_finite():
    x = torch.ones(3, 4, requires_grad=True)
    loss = koleo(x)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all()


def test_gather_embeddings_is_identity_without_distributed():
    x = torch.randn(3, 4, requires_grad=True)
    assert gather_embeddings(x) is x


def _gather_worker(rank, world_size, init_file, out_dir):
    import torch.distributed as dist

    dist.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size
    )
    try:
        x = torch.full((2, 3), float(rank + 1), requires_grad=True)
        gathered = gather_embeddings(x)
        weights = torch.arange(gathered.numel(), dtype=torch.float32).view_as(gathered)
        (gathered * weights).sum().backward()
        torch.save({"gathered": gathered.detach(), "grad": x.grad}, f"{out_dir}/rank{rank}.pt")
        dist.barrier()  # no rank tears gloo down while the other is still in the backward's collective
    finally:
        dist.destroy_process_group()


def test_gather_embeddings_across_two_processes(tmp_path):
    import torch.distributed as dist
    import torch.multiprocessing as mp

    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    world_size = 2
    args = (world_size, str(tmp_path / "init"), str(tmp_path))
    mp.spawn(_gather_worker, args=args, nprocs=world_size)
    expected = torch.cat([torch.full((2, 3), 1.0), torch.full((2, 3), 2.0)])
    weights = torch.arange(12, dtype=torch.float32).view(4, 3)
    for rank in range(world_size):
        result = torch.load(tmp_path / f"rank{rank}.pt")
        assert torch.equal(result["gathered"], expected)
        # Every rank computes the same loss over the global batch; the local slice's
        # gradient sums the contributions of all ranks' losses.
        assert torch.equal(result["grad"], world_size * weights[2 * rank: 2 * rank + 2])


def test_the_teacher_term_lowers_the_student_teacher_distance_on_a_toy_set():
    """A linear student of another dimension learns to relate toy 'frames' the way a fixed teacher does."""
    from video_similarity.training.losses import relational_distillation

    g = torch.Generator().manual_seed(0)
    frames = torch.randn(32, 12, generator=g)
    teacher = F.normalize(frames @ torch.randn(12, 16, generator=g), dim=-1)  # a fixed 16-d teacher
    student = torch.nn.Linear(12, 8)
    torch.nn.init.normal_(student.weight, generator=g)
    start = relational_distillation(student(frames), teacher).item()
    for _ in range(200):  # plain gradient descent by hand
        loss = relational_distillation(student(frames), teacher)
        student.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in student.parameters():
                p -= 0.5 * p.grad
    end = relational_distillation(student(frames), teacher).item()
    assert end < 0.5 * start
    assert float(relational_distillation(teacher, teacher)) == 0.0
    with pytest.raises(ValueError, match="student and teacher"):
        relational_distillation(torch.zeros(3, 2), torch.zeros(4, 2))
