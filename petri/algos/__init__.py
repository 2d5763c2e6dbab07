"""Search algorithms. Each turns store state into jobs and job results into points."""
