"""Model factories for the manifest exporter's command-line test."""
import torch


class SharedParam(torch.nn.Module):
    """FTS's FTSSharedParamFSDPModel: model.3 ties model.1, model.5 ties model.4."""

    def __init__(self):
        super().__init__()
        self.model = torch.nn.Sequential(*[torch.nn.Linear(32, 32) for _ in range(6)], torch.nn.ReLU(),
                                         torch.nn.Linear(32, 2))
        self.model[3].weight = self.model[1].weight
        self.model[3].bias = self.model[1].bias
        self.model[5].weight = self.model[4].weight
        self.model[5].bias = self.model[4].bias
