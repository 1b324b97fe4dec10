"""What the command-line tools in ``tools/`` share. Each module is imported on
its own: ``errors`` needs nothing beyond the standard library, so light tools
(log analysis) use it without importing mmengine."""
