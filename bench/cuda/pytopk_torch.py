"""pytopk's computation in PyTorch, timed on the GPU: the baseline of bench/cuda.

BalNoisedTopK(k=5, epsilon=1): smoothtop_{k+1} of the scores by Monte-Carlo, as pytopk does it:
materialize Z = torch.randn(B, D, S), add to the scores, take torch.kthvalue along the classes,
mean over samples; the backward scatters the sampled positions into a B x D x S zero tensor and
averages over samples. Loss = mean(relu(1 + top_{k+1} - s_y)). Forward + backward, CUDA events,
median of 50 runs after 10 warm-ups; peak extra memory from torch.cuda.max_memory_allocated.

Usage: python3 bench/cuda/pytopk_torch.py [--out FILE]   (markdown table to stdout / FILE)
"""
import argparse
import sys

import torch


class _NoisedTopK(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, k, epsilon, n_sample):
        b, d = x.shape
        z = torch.randn(b, d, n_sample, device=x.device, dtype=x.dtype)
        perturbed = x.unsqueeze(-1) + epsilon * z  # [B, D, S]
        # k-th largest along D = (D - k + 1)-th smallest
        values, indices = torch.kthvalue(perturbed, d - k + 1, dim=1)  # [B, S]
        ctx.save_for_backward(indices)
        ctx.shape = (b, d, n_sample)
        return values.mean(dim=-1)

    @staticmethod
    def backward(ctx, grad_output):
        (indices,) = ctx.saved_tensors
        b, d, s = ctx.shape
        mask = torch.zeros(b, d, s, device=grad_output.device, dtype=grad_output.dtype)
        mask.scatter_(1, indices.unsqueeze(1), 1.0)
        return mask.mean(dim=-1) * grad_output.unsqueeze(-1), None, None, None


def bal_noised_topk_loss(scores, labels, k, epsilon, n_sample):
    top = _NoisedTopK.apply(scores, k + 1, epsilon, n_sample)
    sy = scores.gather(1, labels.unsqueeze(1)).squeeze(1)
    return torch.relu(1.0 + top - sy).mean()


CASES = [(64, 100, 10), (32, 1081, 5), (256, 1000, 5), (1024, 10000, 10), (4096, 32768, 5)]


def bench_case(b, d, s, runs=50, warmup=10):
    dev = torch.device("cuda")
    g = torch.Generator(device=dev).manual_seed(b * 1000003 + d)
    scores0 = torch.rand(b, d, device=dev, generator=g) * 6 - 3
    labels = torch.randint(0, d, (b,), device=dev, generator=g)

    def step():
        scores = scores0.detach().requires_grad_(True)
        loss = bal_noised_topk_loss(scores, labels, 5, 1.0, s)
        loss.backward()
        return scores.grad

    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(runs):
        e0 = torch.cuda.Event(enable_timing=True)
        e1 = torch.cuda.Event(enable_timing=True)
        e0.record()
        step()
        e1.record()
        e1.synchronize()
        times.append(e0.elapsed_time(e1))
    peak = torch.cuda.max_memory_allocated() - base
    times.sort()
    return times[len(times) // 2], peak / 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device for PyTorch", file=sys.stderr)
        return 1
    name = torch.cuda.get_device_name(0)
    lines = [
        "# pytopk's computation in PyTorch (torch.randn, add, kthvalue, scatter, mean)",
        "",
        f"Device: {name}. PyTorch {torch.__version__}. BalNoisedTopK(k=5, epsilon=1) forward + backward,"
        " CUDA events, median of 50 runs after 10 warm-ups.",
        "",
        "| case (B, D, S) | pytopk ms | peak extra GPU MB |",
        "|---|---|---|",
    ]
    for b, d, s in CASES:
        ms, mb = bench_case(b, d, s)
        line = f"| ({b}, {d}, {s}) | {ms:.4f} | {mb:.1f} |"
        print(line, flush=True)
        lines.append(line)
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
