"""Makes this service's tests a uniquely named package for pytest (see conftest note)."""
