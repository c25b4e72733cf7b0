"""The wire format at the edge: untrusted JSON and .npz specs parsed into the science types.

Every parser raises InvalidInputError naming the location (e.g. `trajectories[3].acts`) of each
problem; the science types it builds know nothing of JSON or locations.
"""
