"""Command line entry point (``sluice``): parses input, calls the engine, renders output."""
