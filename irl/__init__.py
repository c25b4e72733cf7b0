"""mesascope's science library: tabular MDPs, trajectories, inverse RL and reward comparison.

Framework-free (numpy, scipy, torch, imitation, seals, gymnasium); the service wraps it.
"""

import os

# gymnasium loads installed environment plugins (minigrid) when imported, and they import
# pygame, which prints a banner on stdout: that would corrupt piped CLI output and openapi.yaml.
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
