"""What runs the jobs of the queue: threads of this process (the default), or a Dask cluster.

The queue (app/core/job_queue.py) owns sessions, order, bounds, history, listeners and ETA; a
backend only runs the work it is handed, reports started / progress / finished, and takes a
cancel (app/core/backends/base.py says exactly what it must do).
"""
