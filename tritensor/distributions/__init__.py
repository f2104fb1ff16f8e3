"""tt.distributions: probability distributions with sampling, log densities, entropies and KL, as torch.distributions."""
