"""The networks of the tabular diffusion model (:mod:`diffshare.generators.tabddpm`): the MLP
denoiser, and multinomial diffusion (Hoogeboom et al. 2021) of the categorical columns in log
space, where every normalisation is a log-softmax over one feature's own categories, which stays
finite where TabDDPM's flat log-sum-exp produced NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of integer timesteps, shape (batch, dim)."""
    half = dim // 2
    freqs = torch.exp(
        -math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half
    )
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class Denoiser(nn.Module):
    """MLP that predicts the noise of numeric columns and the clean-category logits.

    Input: noisy numeric values (batch, d_numeric), one-hot noisy categories (batch, sum K),
    timesteps (batch,), label codes (batch,). Output: (batch, d_numeric + sum K).
    """

    def __init__(
        self,
        d_numeric: int,
        num_classes: Sequence[int],
        n_labels: int,
        hidden_dims: Sequence[int],
        embedding_dim: int,
        dropout: float,
    ):
        super().__init__()
        d_in = d_numeric + int(sum(num_classes))
        self.embedding_dim = embedding_dim
        self.proj = nn.Linear(d_in, embedding_dim)
        self.time_mlp = nn.Sequential(
            nn.Linear(embedding_dim, embedding_dim),
            nn.SiLU(),
            nn.Linear(embedding_dim, embedding_dim),
        )
        self.label_embedding = nn.Embedding(n_labels, embedding_dim)
        layers: list[nn.Module] = []
        width = embedding_dim
        for hidden in hidden_dims:
            layers += [nn.Linear(width, hidden), nn.SiLU(), nn.Dropout(dropout)]
            width = hidden
        layers.append(nn.Linear(width, d_in))
        self.mlp = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        emb = self.time_mlp(timestep_embedding(t, self.embedding_dim)) + self.label_embedding(y)
        return self.mlp(torch.nn.functional.silu(self.proj(x) + emb))


class MultinomialDiffusion(nn.Module):
    """Multinomial diffusion over F categorical features with K_f categories each, in log space.

    Log-probabilities are held flat, (batch, sum K): feature f's categories are the columns
    ``offsets[f]:offsets[f + 1]``, in the order of the denoiser's one-hot input and output, and
    every normalisation is a log-sum-exp over one feature's own columns (:meth:`segment_lse`).
    Holding them padded to (batch, F, K_max) instead did the same arithmetic on F * K_max entries
    per row, mostly padding where one feature has many categories (Adult: 8 * 41 against 102).
    """

    def __init__(self, num_classes: Sequence[int], alphas_cumprod: torch.Tensor):
        super().__init__()
        num_classes = torch.as_tensor(list(num_classes), dtype=torch.long)
        k_max = int(num_classes.max()) if len(num_classes) else 1
        self.num_features = len(num_classes)
        self.register_buffer("num_classes", num_classes)
        # (F, K_max): which entries of a padded (F, K_max) layout hold a category, in flat order
        self.register_buffer("mask", torch.arange(k_max)[None, :] < num_classes[:, None])
        feature = torch.repeat_interleave(torch.arange(len(num_classes)), num_classes)
        self.register_buffer("feature", feature)  # (sum K,): the feature of each column
        self.register_buffer("log_k", torch.log(num_classes.double()).float()[feature])
        # (sum K, F) 0/1 in float64: x @ members sums each feature's columns, exactly whatever
        # torch's float32 matmul precision (at "medium" a float32 product may round its inputs
        # to bfloat16, 0.4% here)
        members = (feature[:, None] == torch.arange(len(num_classes))[None, :]).double()
        self.register_buffer("members", members)
        cumprod = alphas_cumprod.double()
        alphas = torch.cat([cumprod[:1], cumprod[1:] / cumprod[:-1]])
        for name, value in {
            "log_alpha": torch.log(alphas),
            "log_1m_alpha": torch.log1p(-alphas),
            "log_cumprod": torch.log(cumprod),
            "log_1m_cumprod": torch.log1p(-cumprod),
        }.items():
            self.register_buffer(name, value.float())
        # (T, sum K): _mix of a one-hot x at each timestep, at x's category (hit) and elsewhere
        # (miss), computed as _mix computes them, so that a table lookup gives the same values
        steps = torch.arange(len(cumprod))
        for name, keep, flip in [
            ("marginal", self.log_cumprod, self.log_1m_cumprod),
            ("step", self.log_alpha, self.log_1m_alpha),
        ]:
            zeros = torch.zeros(len(steps), int(num_classes.sum()))
            self.register_buffer(f"{name}_hit", self._mix(zeros, keep[steps], flip[steps]))
            self.register_buffer(f"{name}_miss", self._mix(zeros - math.inf, keep, flip))
        offsets = torch.cumsum(torch.cat([torch.zeros(1, dtype=torch.long), num_classes]), 0)
        self.register_buffer("offsets", offsets)

    # -- per-feature reductions --------------------------------------------------------------
    def segment_lse(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, sum K) -> (batch, F): the log-sum-exp of each feature's columns (-inf where
        all of them are -inf). The shift by each feature's maximum is held constant, as
        :func:`torch.logsumexp` does, so the gradient is the feature's softmax."""
        with torch.no_grad():
            index = self.feature.expand(x.shape[0], -1)
            peak = x.new_full((x.shape[0], self.num_features), -math.inf)
            peak = peak.scatter_reduce(1, index, x, "amax")
            peak = torch.where(torch.isfinite(peak), peak, 0.0)
        sums = torch.exp(x - peak.index_select(1, self.feature)).double() @ self.members
        return torch.log(sums).to(x.dtype) + peak

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """Each feature's columns of ``x`` minus their log-sum-exp (a per-feature log-softmax)."""
        return x - self.segment_lse(x).index_select(1, self.feature)

    # -- encodings ---------------------------------------------------------------------------
    def log_onehot(self, codes: torch.Tensor) -> torch.Tensor:
        """(batch, F) codes -> (batch, sum K) log one-hot: 0 at each code, -inf elsewhere."""
        out = torch.full((codes.shape[0], int(self.offsets[-1])), -math.inf, device=codes.device)
        return out.scatter_(1, codes + self.offsets[:-1], 0.0)

    def flat_onehot(self, codes: torch.Tensor) -> torch.Tensor:
        """(batch, F) codes -> (batch, sum K) concatenated one-hot, the denoiser's input."""
        out = torch.zeros(codes.shape[0], int(self.offsets[-1]), device=codes.device)
        out.scatter_(1, codes + self.offsets[:-1], 1.0)
        return out

    def at_codes(self, log_p: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """(batch, sum K) log-probabilities, (batch, F) codes -> (batch, F): each feature's
        log-probability of its code."""
        return log_p.gather(1, codes + self.offsets[:-1])

    def log_softmax(self, flat_logits: torch.Tensor) -> torch.Tensor:
        """(batch, sum K) logits -> (batch, sum K) per-feature log-probabilities."""
        return self.normalise(flat_logits)

    # -- the forward process -----------------------------------------------------------------
    def _mix(self, log_x: torch.Tensor, log_keep: torch.Tensor, log_flip: torch.Tensor):
        """log(keep * x + flip / K) per feature."""
        return torch.logaddexp(log_x + log_keep[:, None], log_flip[:, None] - self.log_k[None])

    def q_marginal(self, log_x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """log q(x_t | x_0) = log(abar_t x_0 + (1 - abar_t) / K)."""
        return self._mix(log_x0, self.log_cumprod[t], self.log_1m_cumprod[t])

    def q_step(self, log_x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """log q(x_t | x_{t-1}) as a function of x_{t-1}: log(alpha_t x_t + (1 - alpha_t) / K)."""
        return self._mix(log_x, self.log_alpha[t], self.log_1m_alpha[t])

    def q_posterior(self, log_x0: torch.Tensor, log_xt: torch.Tensor, t: torch.Tensor):
        """log q(x_{t-1} | x_t, x_0) for t >= 1; log x_0 itself at t = 0 (normalised per feature).

        ``log_x0`` may be a distribution (the model's prediction) rather than a one-hot.
        """
        previous = self.q_marginal(log_x0, (t - 1).clamp(min=0))
        return self._posterior(log_x0, previous, self.q_step(log_xt, t), t)

    # -- the same for one-hot arguments given as codes, from the tables of __init__ -----------
    def _onehot_mix(self, codes: torch.Tensor, hit: torch.Tensor, miss: torch.Tensor, t):
        columns = codes + self.offsets[:-1]
        return miss.index_select(0, t).scatter_(1, columns, hit[t[:, None], columns])

    def q_marginal_codes(self, codes: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """:meth:`q_marginal` of ``log_onehot(codes)``, the same values, by table lookup."""
        return self._onehot_mix(codes, self.marginal_hit, self.marginal_miss, t)

    def q_posterior_codes(
        self,
        log_x0: torch.Tensor | None,
        xt_codes: torch.Tensor,
        t: torch.Tensor,
        *,
        x0_codes: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """:meth:`q_posterior` with ``log_xt = log_onehot(xt_codes)`` and, when ``x0_codes`` is
        given, ``log_x0 = log_onehot(x0_codes)``: the same values, the one-hot terms looked up
        rather than computed (the sampler's and the training loss's every step)."""
        before = (t - 1).clamp(min=0)
        if x0_codes is not None:
            log_x0 = self.log_onehot(x0_codes)
            previous = self.q_marginal_codes(x0_codes, before)
        else:
            previous = self.q_marginal(log_x0, before)
        step = self._onehot_mix(xt_codes, self.step_hit, self.step_miss, t)
        return self._posterior(log_x0, previous, step, t)

    def _posterior(self, log_x0, previous, step, t) -> torch.Tensor:
        unnormalised = torch.where((t == 0)[:, None], log_x0, previous + step)
        return self.normalise(unnormalised)

    def sample(self, log_probs: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Draw codes (batch, F) from per-feature log-probabilities (normalised per feature):
        one uniform per row and feature, located in that feature's cumulative distribution
        (:meth:`locate`)."""
        uniform = torch.rand(
            (log_probs.shape[0], self.num_features),
            generator=generator,
            dtype=torch.float64,
            device=log_probs.device,
        )
        return self.locate(log_probs, uniform)

    def locate(self, log_probs: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
        """The codes (batch, F) at which uniforms (batch, F) in [0, 1) fall in each feature's
        cumulative distribution. In float64, so that the smallest probabilities of the last
        features keep their mass in a running sum over every feature's columns. A category of
        probability 0 is never returned: the threshold stays below the feature's total mass,
        and a column is passed once its cumulative mass is at or below the threshold."""
        rows = log_probs.shape[0]
        cumulative = torch.exp(log_probs.double()).cumsum(1)
        cumulative = torch.cat([cumulative.new_zeros(rows, 1), cumulative], dim=1)
        start, end = cumulative[:, self.offsets[:-1]], cumulative[:, self.offsets[1:]]
        threshold = torch.minimum(start + uniform * (end - start), torch.nextafter(end, start))
        passed = cumulative[:, 1:] <= threshold.index_select(1, self.feature)
        return (passed.double() @ self.members).long()

    def kl(self, log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
        """KL(p || q) per row, summed over features: (batch,)."""
        terms = torch.exp(log_p) * (log_p - log_q)
        return torch.where(log_p > -math.inf, terms, 0.0).sum(dim=1)
