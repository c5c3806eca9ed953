"""The networks of the tabular diffusion model (:mod:`diffshare.generators.tabddpm`): the MLP
denoiser, and multinomial diffusion (Hoogeboom et al. 2021) of the categorical columns in log
space, where every normalisation is a log-softmax over one feature's own categories (padding
masked out), which stays finite where TabDDPM's flat log-sum-exp produced NaN.
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

    Log-probabilities are held padded as (batch, F, K_max); entries past K_f are -inf and masked
    out of every sum, so each feature is normalised over its own categories only.
    """

    def __init__(self, num_classes: Sequence[int], alphas_cumprod: torch.Tensor):
        super().__init__()
        num_classes = torch.as_tensor(list(num_classes), dtype=torch.long)
        k_max = int(num_classes.max()) if len(num_classes) else 1
        self.num_features = len(num_classes)
        self.register_buffer("num_classes", num_classes)
        self.register_buffer("mask", torch.arange(k_max)[None, :] < num_classes[:, None])
        self.register_buffer("log_k", torch.log(num_classes.double()).float()[:, None])
        cumprod = alphas_cumprod.double()
        alphas = torch.cat([cumprod[:1], cumprod[1:] / cumprod[:-1]])
        for name, value in {
            "log_alpha": torch.log(alphas),
            "log_1m_alpha": torch.log1p(-alphas),
            "log_cumprod": torch.log(cumprod),
            "log_1m_cumprod": torch.log1p(-cumprod),
        }.items():
            self.register_buffer(name, value.float())
        offsets = torch.cumsum(torch.cat([torch.zeros(1, dtype=torch.long), num_classes]), 0)
        self.register_buffer("offsets", offsets)

    # -- encodings ---------------------------------------------------------------------------
    def log_onehot(self, codes: torch.Tensor) -> torch.Tensor:
        """(batch, F) codes -> (batch, F, K_max) log one-hot: 0 at the code, -inf elsewhere."""
        onehot = nn.functional.one_hot(codes, self.mask.shape[1]).bool()
        zeros = torch.zeros(onehot.shape, device=codes.device)
        return zeros.masked_fill(~onehot, -math.inf)

    def flat_onehot(self, codes: torch.Tensor) -> torch.Tensor:
        """(batch, F) codes -> (batch, sum K) concatenated one-hot, the denoiser's input."""
        out = torch.zeros(codes.shape[0], int(self.offsets[-1]), device=codes.device)
        out.scatter_(1, codes + self.offsets[:-1], 1.0)
        return out

    def log_softmax(self, flat_logits: torch.Tensor) -> torch.Tensor:
        """(batch, sum K) logits -> (batch, F, K_max) per-feature log-probabilities."""
        padded = flat_logits.new_full((flat_logits.shape[0], *self.mask.shape), -math.inf)
        padded[:, self.mask] = flat_logits
        return padded.log_softmax(dim=-1)

    # -- the forward process -----------------------------------------------------------------
    def _mix(self, log_x: torch.Tensor, log_keep: torch.Tensor, log_flip: torch.Tensor):
        """log(keep * x + flip / K) per feature, padding kept at -inf."""
        mixed = torch.logaddexp(
            log_x + log_keep[:, None, None], log_flip[:, None, None] - self.log_k[None]
        )
        return mixed.masked_fill(~self.mask, -math.inf)

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
        unnormalised = previous + self.q_step(log_xt, t)
        at_zero = (t == 0)[:, None, None]
        unnormalised = torch.where(at_zero, log_x0, unnormalised)
        return unnormalised - torch.logsumexp(unnormalised, dim=-1, keepdim=True)

    def sample(self, log_probs: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Draw codes (batch, F) from per-feature log-probabilities (Gumbel-max)."""
        uniform = torch.rand(log_probs.shape, generator=generator, device=log_probs.device)
        gumbel = -torch.log(-torch.log(uniform.clamp(1e-30, 1.0 - 1e-7)))
        return (log_probs + gumbel).argmax(dim=-1)

    def kl(self, log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
        """KL(p || q) per row, summed over features: (batch,)."""
        terms = torch.exp(log_p) * (log_p - log_q)
        return torch.where(self.mask & (log_p > -math.inf), terms, 0.0).sum(dim=(1, 2))
