"""C42's planning tables seen from Django (unmanaged models) and the events list's API."""
