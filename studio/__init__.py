"""The Plait studio: a Reflex app to watch and operate workflows (``plait studio``)."""
