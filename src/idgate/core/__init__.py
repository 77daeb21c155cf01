"""Framework-free domain logic of idgate (see README.md in this folder)."""
