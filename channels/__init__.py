"""Channel kinds: the contract, the registry and one folder per kind."""
