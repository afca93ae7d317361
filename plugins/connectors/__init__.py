"""The built-in connector kinds, one plugin module each."""
