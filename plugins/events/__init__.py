"""Built-in plugins that receive lifecycle events."""
