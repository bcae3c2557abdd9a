"""Long-running processes: the scheduler and its schedules, the scheduler lock, process reports."""
