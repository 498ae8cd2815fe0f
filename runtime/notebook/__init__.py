"""Notebook front end: graphs draw themselves, runs display as live ipywidgets views with
wait forms. Runner code never prints: it only sets widget state, from one refresher thread."""
