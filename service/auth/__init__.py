"""API keys and projects: who is calling, and which rows they may see."""
