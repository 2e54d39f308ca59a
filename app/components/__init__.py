"""Per-session Panel components (pn.viewable.Viewer): they read and subscribe to the core, and
never start threads of their own."""
