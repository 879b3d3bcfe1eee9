"""Multimodal compact bilinear pooling (MCB): one of MAFnet's Table 2 fusions (§4.5).

MAFnet cites Gao et al. (2016, "Compact bilinear pooling") for MCB. The bilinear
(outer) product x ⊗ y of two vectors is never formed: its count sketch is the circular
convolution of the two vectors' count sketches (Pham and Pagh's Tensor Sketch), computed
as a product in the Fourier domain:

    Psi(x ⊗ y) = IFFT( FFT(Psi_1(x)) * FFT(Psi_2(y)) ),   Psi_i(v)[h_i[j]] += s_i[j] v[j]

with fixed random hashes h_i (into out_dim bins) and signs s_i (±1), drawn once at
construction and kept as buffers, so that a saved model reloads the same projection.
"""

import torch
from torch import nn

# Gao et al. find d = 8192 enough to match full bilinear pooling; MAFnet gives no size.
DEFAULT_DIM = 8192


def count_sketch(x: torch.Tensor, h: torch.Tensor, s: torch.Tensor, out_dim: int) -> torch.Tensor:
    """(B, n) -> (B, out_dim): entry j of each row is added, times s[j], into bin h[j]."""
    return x.new_zeros(x.shape[0], out_dim).index_add_(1, h, x * s)


def tensor_sketch(x, y, h1, s1, h2, s2, out_dim: int) -> torch.Tensor:
    """Count sketch of the outer products x ⊗ y: (B, n1), (B, n2) -> (B, out_dim).

    Equal to sketching the (B, n1 * n2) outer product with hash (h1[i] + h2[j]) mod
    out_dim and sign s1[i] * s2[j]."""
    fx = torch.fft.rfft(count_sketch(x, h1, s1, out_dim))
    fy = torch.fft.rfft(count_sketch(y, h2, s2, out_dim))
    return torch.fft.irfft(fx * fy, n=out_dim)


class CompactBilinearPooling(nn.Module):
    """(B, dim1), (B, dim2) -> (B, out_dim) compact bilinear feature.

    The sketch is followed by a signed square root and l2 normalisation, as Gao et al.
    (after bilinear CNNs) and Fukui et al.'s multimodal MCB do: bilinear features have a
    heavy-tailed magnitude that these tame before a linear classifier.
    """

    def __init__(self, dim1: int, dim2: int, out_dim: int = DEFAULT_DIM):
        super().__init__()
        self.out_dim = out_dim
        self.register_buffer("h1", torch.randint(out_dim, (dim1,)))
        self.register_buffer("s1", torch.randint(2, (dim1,)).float() * 2 - 1)
        self.register_buffer("h2", torch.randint(out_dim, (dim2,)))
        self.register_buffer("s2", torch.randint(2, (dim2,)).float() * 2 - 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        z = tensor_sketch(x, y, self.h1, self.s1, self.h2, self.s2, self.out_dim)
        # The small offset keeps the square root's gradient finite where z is exactly 0.
        z = torch.sign(z) * torch.sqrt(z.abs() + 1e-10)
        return nn.functional.normalize(z, dim=1)  # (B, out_dim)
