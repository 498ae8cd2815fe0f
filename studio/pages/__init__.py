"""The pages: workflows, workflow, runs, run, and the not-found page."""
