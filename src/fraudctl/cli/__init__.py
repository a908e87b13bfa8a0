"""The `fraudctl` command line: one small module per command group; logic lives elsewhere."""
