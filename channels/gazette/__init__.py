"""The ``gazette`` kind: the government gazette (政府公报), compiled into numbered, immutable issues."""
