"""Motion tokenizers: VQ-VAE, residual VQ, part-aware body/hand VQ and PGR2M pose codes + residuals."""
