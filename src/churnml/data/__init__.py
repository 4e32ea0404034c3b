"""Input tables: the contract, loading, and the synthetic world."""
