"""Environment specs: tabular MDPs and allow-listed gymnasium ids."""
