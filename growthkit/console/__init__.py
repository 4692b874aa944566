"""The desktop console shell: profiles, main window, docks, workers, local cache."""
