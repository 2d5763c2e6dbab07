"""The daemon: slots, workers, job kinds and the loop that schedules jobs onto them."""
