"""One network state per task: the paratope from the epoch best for the antibody, the epitope from the epoch
best for the antigen (training option ``selection: per_task``, :func:`absites.train.loop.fit`).

The two tasks converge at different speeds: DiffusionNet's validation paratope AUPRC still rises after ten
epochs while its epitope AUPRC is best in the first few (bench/RESULTS.md, "Does DiffusionNet converge in 5
epochs?"). Early stopping on their mean follows the paratope and over-trains the epitope. A
:class:`PerTaskNetwork` holds both states of the same network and answers each residue with the state chosen
for its protein's task.
"""

from __future__ import annotations

from torch import Tensor, nn

TASKS = ("paratope", "epitope")


class PerTaskNetwork(nn.Module):
    """Two instances of one network: ``paratope`` scores antibody residues, ``epitope`` antigen residues."""

    def __init__(self, paratope: nn.Module, epitope: nn.Module):
        super().__init__()
        if type(paratope) is not type(epitope):
            raise ValueError("PerTaskNetwork: both tasks' states must be the same network")
        self.paratope, self.epitope = paratope, epitope
        self.needs = tuple(dict.fromkeys((*paratope.needs, "is_antibody")))  # batch keys: the network's + roles
        self._inner_needs = tuple(paratope.needs)

    def forward(self, **inputs) -> Tensor:
        own = {k: inputs[k] for k in self._inner_needs}
        return self.paratope(**own).where(inputs["is_antibody"], self.epitope(**own))
