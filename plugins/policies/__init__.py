"""The built-in governance policies, one plugin module each."""
