"""DeepSMOTE (written here; no maintained library offers it for tables): SMOTE in a learned latent space.

An encoder/decoder is trained on the training split (reconstruction MSE, plus an optional
classification loss on the latent code so classes stay apart), the minority rows are encoded,
imbalanced-learn's SMOTE interpolates between latent neighbours, and the decoder maps the new
latent points back to feature space. Only synthetic rows are decoded; real rows are kept as is.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
import torch
from torch import nn

from components.base import CONTRACT
from components.registry import Interval
from components.resamplers import RESAMPLERS, RUNTIME, K, ImblearnResampler


@RESAMPLERS.register("deepsmote", runtime=RUNTIME)
@dataclass(**CONTRACT)
class DeepSmote(ImblearnResampler):
    """SMOTE between latent codes of an autoencoder trained on the training split; new codes decoded."""

    k_neighbors: K = 5
    latent_dim: Annotated[int, Interval(1, None)] = 8
    hidden: Annotated[int, Interval(1, None)] = 64
    epochs: Annotated[int, Interval(1, None)] = 30
    lr: Annotated[float, Interval(0, None, "neither")] = 1e-3
    batch_size: Annotated[int, Interval(1, None)] = 256
    cls_weight: Annotated[float, Interval(0, None)] = 0.1

    def _resample(self, X: np.ndarray, y: np.ndarray, params: dict[str, Any], strategy: Any) -> tuple[np.ndarray, np.ndarray]:
        from imblearn.over_sampling import SMOTE

        device = torch.device(self.device)
        g = torch.Generator().manual_seed(self.seed)
        torch.manual_seed(self.seed)
        d, h, z_dim = X.shape[1], params["hidden"], params["latent_dim"]
        encoder = nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, z_dim)).to(device)
        decoder = nn.Sequential(nn.Linear(z_dim, h), nn.ReLU(), nn.Linear(h, d)).to(device)
        head = nn.Linear(z_dim, int(y.max()) + 1).to(device)
        modules = nn.ModuleList([encoder, decoder, head])
        opt = torch.optim.Adam(modules.parameters(), lr=params["lr"])
        Xt = torch.as_tensor(X, dtype=torch.float32, device=device)
        yt = torch.as_tensor(y, dtype=torch.long, device=device)
        n, bs = len(Xt), params["batch_size"]
        modules.train()
        for _ in range(params["epochs"]):
            perm = torch.randperm(n, generator=g).to(device)
            for start in range(0, n, bs):
                idx = perm[start : start + bs]
                z = encoder(Xt[idx])
                loss = nn.functional.mse_loss(decoder(z), Xt[idx])
                if params["cls_weight"] > 0:
                    loss = loss + params["cls_weight"] * nn.functional.cross_entropy(head(z), yt[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        modules.eval()
        with torch.no_grad():
            Z = encoder(Xt).cpu().numpy()
            k = self._neighbor_objects({"k_neighbors": params["k_neighbors"]}, y, strategy)["k_neighbors"]
            Zr, yr = SMOTE(sampling_strategy=strategy, random_state=self.seed, k_neighbors=k).fit_resample(Z, y)
            new = decoder(torch.as_tensor(Zr[n:], dtype=torch.float32, device=device)).cpu().numpy()
            self.reconstruction_mse_ = float(((decoder(encoder(Xt)) - Xt) ** 2).mean().item()) if n else 0.0
        return np.concatenate([X, new.astype(X.dtype)]), yr

    def report(self) -> dict[str, float]:
        return {**super().report(), "resample/deepsmote_reconstruction_mse": getattr(self, "reconstruction_mse_", float("nan"))}
