"""Where the shipped workflows come from: graph descriptions and the writer of both formats."""
