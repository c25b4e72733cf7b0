"""One module per dashboard page: its routes and what it shows."""
